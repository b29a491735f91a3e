// The outbox relay: moves committed events from bank.outbox to Kafka.
//
// - No transaction is ever open across a Kafka publish. A cycle takes the
//   leader lock as a *session* advisory lock on one pooled connection, reads a
//   batch (autocommit), publishes it with a bounded timeout while holding no
//   transaction, deletes what the broker acknowledged in one short statement,
//   then unlocks. A slow broker therefore cannot trip the idle-in-transaction
//   timeout (which used to roll the delete back and re-send the batch forever).
// - Order: rows are read in id order; per account, id order is commit order
//   (an account's events are written under its row lock), and a batch goes to
//   Kafka in one ordered send keyed by account id. Only the lock holder reads
//   or deletes, and it deletes a batch before it unlocks, so the next leader
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
import type pg from 'pg';

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
}

export interface OutboxRelayOptions {
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
}

const REASON_CHARS_MAX = 500;

export class OutboxRelay {
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pendingWake = false;
  private consecutiveFailures = 0;
  private readonly table: string;
  private readonly quarantineTable: string;

  constructor(private readonly options: OutboxRelayOptions) {
    this.table = options.table ?? 'bank.outbox';
    this.quarantineTable = `${this.table}_quarantine`;
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

  /** Stops after the current cycle, which ends within its publish timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
  }

  /**
   * One cycle: returns the number of rows done (published or quarantined), 0
   * when there was nothing to do or another replica holds the relay lock.
   */
  async runOnce(): Promise<number> {
    const client = await this.options.pool.connect();
    let broken: Error | undefined;
    let locked = false;
    try {
      const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [OUTBOX_RELAY_LOCK_KEY]);
      locked = lock.rows[0]?.ok === true;
      if (!locked) return 0;
      return await this.relayBatch(client);
    } catch (error) {
      broken = error as Error;
      throw error;
    } finally {
      if (locked && !broken) {
        await client.query('SELECT pg_advisory_unlock($1)', [OUTBOX_RELAY_LOCK_KEY]).catch((error: unknown) => {
          broken = error as Error;
        });
      }
      // A connection in an unknown state (or still holding the lock) is destroyed, which ends the session and its lock.
      client.release(broken);
    }
  }

  /** Reads, publishes (no transaction open) and deletes one batch, on the lock-holding session. */
  private async relayBatch(client: pg.PoolClient): Promise<number> {
    const { rows } = await client.query<OutboxRow>(
      `SELECT id, account_id, event_type, payload::text AS payload,
              (extract(epoch FROM clock_timestamp() - created_at) * 1000)::bigint AS age_ms
         FROM ${this.table} ORDER BY id LIMIT $1`,
      [this.options.batchSize],
    );
    this.options.metrics?.oldestAgeMs(rows.length > 0 ? Number(rows[0]!.age_ms) : 0);
    if (rows.length === 0) return 0;
    try {
      await this.publish(rows.map(toMessage));
    } catch (error) {
      if (!(error instanceof PermanentPublishError)) throw error;
      return this.isolateRejected(client, rows);
    }
    await client.query(`DELETE FROM ${this.table} WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
    this.options.metrics?.published(rows.length);
    return rows.length;
  }

  /**
   * The batch holds an event Kafka refuses for good: send the rows one at a
   * time, in order, deleting each acknowledged one and quarantining each
   * refused one. A transient failure stops here; the rest waits for the next cycle.
   */
  private async isolateRejected(client: pg.PoolClient, rows: OutboxRow[]): Promise<number> {
    let done = 0;
    for (const row of rows) {
      try {
        await this.publish([toMessage(row)]);
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
      `WITH moved AS (DELETE FROM ${this.table} WHERE id = $1 RETURNING id, account_id, event_type, payload, created_at)
       INSERT INTO ${this.quarantineTable} (id, account_id, event_type, payload, created_at, reason)
       SELECT id, account_id, event_type, payload, created_at, $2 FROM moved`,
      [row.id, reason.slice(0, REASON_CHARS_MAX)],
    );
    this.options.metrics?.quarantined?.(1);
    // The payload is not logged: only which row and why.
    this.options.logger.error({ outboxId: row.id, accountId: row.account_id, eventType: row.event_type, reason }, 'outbox event rejected by kafka for good; quarantined');
  }

  private publish(messages: OutboxMessage[]): Promise<void> {
    return withTimeout(this.options.publisher.publish(messages), this.options.publishTimeoutMs, 'outbox publish');
  }

  private async run(): Promise<void> {
    const { logger, batchSize, pollIntervalMs, backoffBaseMs, backoffMaxMs } = this.options;
    while (!this.stopped) {
      let done = 0;
      try {
        this.pendingWake = false;
        done = await this.runOnce();
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

function toMessage(row: OutboxRow): OutboxMessage {
  return { key: row.account_id, value: row.payload, headers: { eventType: row.event_type } };
}
