// The outbox relay: moves committed events from bank.outbox to Kafka.
//
// - Leadership (leadership.ts): the running relay holds a *session* advisory
//   lock across cycles on one dedicated connection; followers try it every
//   ≤ 1 s (FOLLOWER_RETRY_MS_MAX) and ignore local wake-ups. `runOnce()` alone
//   (tests, tools) takes the lock for one cycle and gives it back.
// - No transaction is ever open across a Kafka publish. A cycle reads a batch
//   on the lock-holding session (autocommit), publishes it with a bounded
//   timeout while holding no transaction, and deletes what the broker
//   acknowledged in one short statement. A slow broker therefore cannot trip
//   the idle-in-transaction timeout (which used to roll the delete back and
//   re-send the batch forever). A failed statement makes the leader step down
//   (its session is dropped); a failed publish does not (the session is fine).
// - Order: rows are read in id order; per account, id order is commit order
//   (an account's events are written under its row lock), and a batch goes to
//   Kafka in one ordered send keyed by account id. Only the lock holder reads
//   or deletes, and it deletes a batch before it lets go, so the next leader
//   (this process or a replica) starts exactly where the last one stopped. If
//   the leader's session dies mid-publish, its lock dies with it: the next
//   leader re-sends that batch (a duplicate, never a reorder of first copies),
//   and the dead session can no longer read or delete anything.
// - At-least-once: rows are deleted only after the broker acknowledged them;
//   a crash in between re-sends them, and consumers deduplicate on eventId.
// - Poison events: an event Kafka rejects for good (too large, invalid) is
//   moved to <table>_quarantine with the reason and counted; the batch is
//   re-sent one event at a time to find it, so it never blocks the rest.
// - Kafka down: the cycle fails, nothing is deleted, the relay backs off
//   (bounded, jittered); transfers never wait on Kafka.
import type { Logger } from '@wallet/platform';
import { backoffDelayMs, withTimeout } from '@wallet/platform';
import { context, ROOT_CONTEXT, SpanKind, withSpan, type Span } from '@wallet/platform/tracing';
import type pg from 'pg';
import { RelayLeadership } from './leadership.js';
import { endProducerSpans, messagingAttributes, recordHeaders, startProducerSpans, untracedContext } from './tracing.js';

/** Advisory lock key of the relay leader ("outbox" in ASCII). */
export const OUTBOX_RELAY_LOCK_KEY = 0x6f7574626f78;

export interface OutboxMessage {
  /** Kafka key: the account id. */
  key: string;
  /** JSON payload, exactly as stored. */
  value: string;
  headers: Record<string, string>;
}

/** Where the relay sends batches; resolves only once the broker acknowledged all of them. */
export interface OutboxPublisher {
  /** The Kafka topic, for span names and attributes. */
  readonly topic?: string;
  publish(messages: OutboxMessage[]): Promise<void>;
  close(): Promise<void>;
}

/**
 * Thrown by a publisher when the broker refuses a message for a reason that
 * retrying cannot fix (record too large, invalid topic or record).
 */
export class PermanentPublishError extends Error {
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(`kafka rejected the batch for good: ${reason}`, options);
    this.name = 'PermanentPublishError';
  }
}

export interface OutboxRelayMetrics {
  published(count: number): void;
  failed(): void;
  oldestAgeMs(ms: number): void;
  quarantined?(count: number): void;
  /** Unpublished rows at the start of the cycle (at most OUTBOX_PENDING_COUNT_MAX). */
  pending?(count: number): void;
  /** This relay became the leader (true) or stopped being it (false). */
  leader?(isLeader: boolean): void;
}

/** A follower tries the leader lock at least this often, so a dead leader is replaced within about this (C4: 5 s). */
export const FOLLOWER_RETRY_MS_MAX = 1_000;

/** Added to the longest pause of a healthy relay between two statements, for the leader session's idle timeout. */
export const LEADER_IDLE_MARGIN_MS = 5_000;

/** Errors of the Kafka send: the database session is fine, so leadership is kept. */
const publishErrors = new WeakSet<object>();

/** The pending count stops here: a backlog this deep is an incident either way, and counting further costs a scan. */
export const OUTBOX_PENDING_COUNT_MAX = 100_000;
/** With a backlog (full batches back to back) the pending rows are counted at most this often. */
const PENDING_COUNT_INTERVAL_MS = 1_000;

export interface OutboxRelayOptions {
  /** The leader session comes from here (bank-service: a dedicated pool of one connection). */
  pool: pg.Pool;
  publisher: OutboxPublisher;
  logger: Logger;
  /** Rows per Kafka send; bounded. */
  batchSize: number;
  /** Fallback poll when nobody wakes the relay (other replicas' commits). */
  pollIntervalMs: number;
  /** A send that takes longer is abandoned and retried. */
  publishTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  metrics?: OutboxRelayMetrics;
  /** Schema-qualified table; tests may point elsewhere. Quarantine goes to `<table>_quarantine`. */
  table?: string;
}

interface OutboxRow {
  id: string;
  account_id: string;
  event_type: string;
  payload: string;
  age_ms: string;
  /** Traceparent of the request that wrote the row; NULL for rows written before tracing. */
  trace_context: string | null;
}

const REASON_CHARS_MAX = 500;

export class OutboxRelay {
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pendingWake = false;
  private consecutiveFailures = 0;
  private pendingCountedAtMs = Number.NEGATIVE_INFINITY;
  private readonly table: string;
  private readonly quarantineTable: string;
  private readonly topic: string;
  private readonly leadership: RelayLeadership;

  constructor(private readonly options: OutboxRelayOptions) {
    this.table = options.table ?? 'bank.outbox';
    this.quarantineTable = `${this.table}_quarantine`;
    this.topic = options.publisher.topic ?? 'outbox';
    this.leadership = new RelayLeadership({
      pool: options.pool,
      lockKey: OUTBOX_RELAY_LOCK_KEY,
      logger: options.logger,
      // The longest a healthy relay waits between two statements: a poll, a backoff, or one bounded send.
      idleSessionTimeoutMs: Math.max(options.pollIntervalMs, options.backoffMaxMs * 2, options.publishTimeoutMs) + LEADER_IDLE_MARGIN_MS,
      onChange: (leader) => options.metrics?.leader?.(leader),
    });
    options.metrics?.leader?.(false);
  }

  /** Whether this relay holds the relay lock now (the gauge and /readyz detail). */
  get role(): 'leader' | 'follower' {
    return this.leadership.isLeader ? 'leader' : 'follower';
  }

  /** True while the last cycle failed (Kafka or the database unreachable). */
  get degraded(): boolean {
    return this.consecutiveFailures > 0;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  /** Called after a local commit that wrote outbox rows: relay now, not at the next poll. */
  wake(): void {
    this.pendingWake = true;
    this.wakeUp?.();
  }

  /** Stops after the current cycle, which ends within its publish timeout, and hands leadership over (unlock). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
    await context.with(untracedContext(), () => this.leadership.release());
  }

  /**
   * One cycle on its own (not the running loop): takes the relay lock, relays
   * one batch, gives the lock back. Returns the number of rows done (published
   * or quarantined), 0 when there was nothing to do or another relay leads.
   */
  runOnce(): Promise<number> {
    // The unlock too is an idle statement: untraced like the rest of an empty cycle.
    return context.with(untracedContext(), async () => {
      try {
        return await this.tracedCycle();
      } finally {
        await this.leadership.release();
      }
    });
  }

  private tracedCycle(): Promise<number> {
    // Untraced until rows turn up: idle polls make no spans (see relayBatch).
    return context.with(untracedContext(), () => this.cycle(new Date()));
  }

  private async cycle(startedAt: Date): Promise<number> {
    try {
      const session = await this.leadership.acquire();
      if (!session) return 0;
      return await this.relayBatch(session, startedAt);
    } catch (error) {
      // A statement failed: the session's state (and so the lock) is unknown. A failed send leaves it intact.
      if (!(typeof error === 'object' && error !== null && publishErrors.has(error))) this.leadership.abandon(error as Error);
      throw error;
    }
  }

  /** Reads, publishes (no transaction open) and deletes one batch, on the lock-holding session. */
  private async relayBatch(client: pg.PoolClient, startedAt: Date): Promise<number> {
    const { rows } = await client.query<OutboxRow>(
      `SELECT id, account_id, event_type, payload::text AS payload, trace_context,
              (extract(epoch FROM clock_timestamp() - created_at) * 1000)::bigint AS age_ms
         FROM ${this.table} ORDER BY id LIMIT $1`,
      [this.options.batchSize],
    );
    this.options.metrics?.oldestAgeMs(rows.length > 0 ? Number(rows[0]!.age_ms) : 0);
    await this.reportPending(client, rows.length);
    if (rows.length === 0) return 0;
    // A new root per cycle (it carries many requests' records); started back when the cycle began.
    const attributes = { ...messagingAttributes(this.topic), 'messaging.batch.message_count': rows.length };
    return withSpan('outbox.relay', { kind: SpanKind.INTERNAL, parent: ROOT_CONTEXT, startTime: startedAt, attributes }, (cycle) =>
      this.publishBatch(client, rows, cycle),
    );
  }

  private async publishBatch(client: pg.PoolClient, rows: OutboxRow[], cycle: Span): Promise<number> {
    try {
      await this.publish(rows, cycle);
    } catch (error) {
      if (!(error instanceof PermanentPublishError)) throw error;
      return this.isolateRejected(client, rows, cycle);
    }
    await client.query(`DELETE FROM ${this.table} WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
    this.options.metrics?.published(rows.length);
    return rows.length;
  }

  /** A batch that is not full is the whole backlog; a full one is counted (bounded, and not every cycle). */
  private async reportPending(client: pg.PoolClient, batchRows: number): Promise<void> {
    const report = this.options.metrics?.pending;
    if (!report) return;
    if (batchRows < this.options.batchSize) {
      report.call(this.options.metrics, batchRows);
      return;
    }
    const nowMs = Date.now();
    if (nowMs - this.pendingCountedAtMs < PENDING_COUNT_INTERVAL_MS) return;
    this.pendingCountedAtMs = nowMs;
    const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT 1 FROM ${this.table} LIMIT $1) AS pending`, [OUTBOX_PENDING_COUNT_MAX]);
    report.call(this.options.metrics, Number(rows[0]!.n));
  }

  /**
   * The batch holds an event Kafka refuses for good: send the rows one at a
   * time, in order, deleting each acknowledged one and quarantining each
   * refused one. A transient failure stops here; the rest waits for the next cycle.
   */
  private async isolateRejected(client: pg.PoolClient, rows: OutboxRow[], cycle: Span): Promise<number> {
    let done = 0;
    for (const row of rows) {
      try {
        await this.publish([row], cycle);
        await client.query(`DELETE FROM ${this.table} WHERE id = $1`, [row.id]);
        this.options.metrics?.published(1);
      } catch (error) {
        if (!(error instanceof PermanentPublishError)) throw error;
        await this.quarantine(client, row, error.reason);
      }
      done += 1;
    }
    return done;
  }

  private async quarantine(client: pg.PoolClient, row: OutboxRow, reason: string): Promise<void> {
    // One statement: the row leaves the outbox exactly when it enters the quarantine.
    await client.query(
      `WITH moved AS (DELETE FROM ${this.table} WHERE id = $1 RETURNING id, account_id, event_type, payload, created_at, trace_context)
       INSERT INTO ${this.quarantineTable} (id, account_id, event_type, payload, created_at, reason, trace_context)
       SELECT id, account_id, event_type, payload, created_at, $2, trace_context FROM moved`,
      [row.id, reason.slice(0, REASON_CHARS_MAX)],
    );
    this.options.metrics?.quarantined?.(1);
    // The payload is not logged: only which row and why.
    this.options.logger.error({ outboxId: row.id, accountId: row.account_id, eventType: row.event_type, reason }, 'outbox event rejected by kafka for good; quarantined');
  }

  /** One bounded send; each record in its own PRODUCER span, whose traceparent the record carries. */
  private async publish(rows: OutboxRow[], cycle: Span): Promise<void> {
    const spans = startProducerSpans(rows, this.topic, cycle);
    const messages = rows.map((row, i) => toMessage(row, spans[i]!));
    try {
      await withTimeout(this.options.publisher.publish(messages), this.options.publishTimeoutMs, 'outbox publish');
    } catch (error) {
      endProducerSpans(spans, error);
      if (typeof error === 'object' && error !== null) publishErrors.add(error);
      throw error;
    }
    endProducerSpans(spans);
  }

  private async run(): Promise<void> {
    const { logger, batchSize, pollIntervalMs, backoffBaseMs, backoffMaxMs } = this.options;
    while (!this.stopped) {
      let done = 0;
      try {
        this.pendingWake = false;
        done = await this.tracedCycle();
        if (this.consecutiveFailures > 0) logger.info({ afterFailures: this.consecutiveFailures }, 'outbox relay recovered');
        this.consecutiveFailures = 0;
      } catch (error) {
        this.consecutiveFailures += 1;
        this.options.metrics?.failed();
        const delayMs = backoffDelayMs(this.consecutiveFailures, backoffBaseMs, backoffMaxMs) + backoffBaseMs;
        logger.warn({ err: error, failures: this.consecutiveFailures, retryInMs: delayMs }, 'outbox relay cycle failed');
        // While failing, wake-ups are ignored so a burst of commits cannot hammer a down broker.
        await this.sleep(delayMs, false);
        continue;
      }
      if (!this.leadership.isLeader) {
        // A follower's local commits are the leader's to publish: only the retry clock matters.
        await this.sleep(Math.min(pollIntervalMs, FOLLOWER_RETRY_MS_MAX), false);
        continue;
      }
      // A full batch means there is more backlog: go again at once.
      if (done === batchSize) continue;
      if (!this.pendingWake) await this.sleep(pollIntervalMs, true);
    }
  }

  private sleep(ms: number, wakeable: boolean): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = () => {
        if (wakeable || this.stopped) done();
      };
    });
  }
}

function toMessage(row: OutboxRow, span: Span): OutboxMessage {
  return { key: row.account_id, value: row.payload, headers: recordHeaders({ eventType: row.event_type }, span) };
}
