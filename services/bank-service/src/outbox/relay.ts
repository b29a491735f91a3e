// The outbox relay: moves committed events from bank.outbox to Kafka.
//
// - Order: rows are read in id order; per account, id order is commit order
//   (an account's events are written under its row lock), and a batch goes to
//   Kafka in one ordered send keyed by account id.
// - Several replicas: only the holder of a transaction-scoped advisory lock
//   relays; the others find it taken and wait for the next cycle, so order
//   holds across replicas and a dead leader is replaced within a poll.
// - At-least-once: rows are deleted in the same transaction only after the
//   broker acknowledged the batch; a crash in between re-sends them, and
//   consumers deduplicate on eventId.
// - Kafka down: the cycle fails, the transaction rolls back, the relay backs
//   off (bounded, jittered); transfers never wait on Kafka.
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

export interface OutboxRelayMetrics {
  published(count: number): void;
  failed(): void;
  oldestAgeMs(ms: number): void;
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
  /** Schema-qualified table; tests may point elsewhere. */
  table?: string;
}

interface OutboxRow {
  id: string;
  account_id: string;
  event_type: string;
  payload: string;
  age_ms: string;
}

export class OutboxRelay {
  private stopped = true;
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  private pendingWake = false;
  private consecutiveFailures = 0;
  private readonly table: string;

  constructor(private readonly options: OutboxRelayOptions) {
    this.table = options.table ?? 'bank.outbox';
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

  /** Stops after the current cycle (which finishes or rolls back), within its publish timeout. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeUp?.();
    await this.loop;
  }

  /**
   * One cycle: returns the number of events published, 0 when there was
   * nothing to do or another replica holds the relay lock.
   */
  async runOnce(): Promise<number> {
    const { pool, publisher, batchSize, publishTimeoutMs } = this.options;
    const client = await pool.connect();
    let released = false;
    try {
      await client.query('BEGIN');
      const lock = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS ok', [OUTBOX_RELAY_LOCK_KEY]);
      if (!lock.rows[0]?.ok) {
        await client.query('ROLLBACK');
        return 0;
      }
      const { rows } = await client.query<OutboxRow>(
        `SELECT id, account_id, event_type, payload::text AS payload,
                (extract(epoch FROM clock_timestamp() - created_at) * 1000)::bigint AS age_ms
           FROM ${this.table} ORDER BY id LIMIT $1`,
        [batchSize],
      );
      if (rows.length === 0) {
        await client.query('COMMIT');
        this.options.metrics?.oldestAgeMs(0);
        return 0;
      }
      this.options.metrics?.oldestAgeMs(Number(rows[0]!.age_ms));
      const messages = rows.map((row) => ({
        key: row.account_id,
        value: row.payload,
        headers: { eventType: row.event_type },
      }));
      await withTimeout(publisher.publish(messages), publishTimeoutMs, 'outbox publish');
      await client.query(`DELETE FROM ${this.table} WHERE id = ANY($1::bigint[])`, [rows.map((r) => r.id)]);
      await client.query('COMMIT');
      this.options.metrics?.published(rows.length);
      return rows.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      // A connection in an unknown state is not returned to the pool.
      client.release(error as Error);
      released = true;
      throw error;
    } finally {
      if (!released) client.release();
    }
  }

  private async run(): Promise<void> {
    const { logger, batchSize, pollIntervalMs, backoffBaseMs, backoffMaxMs } = this.options;
    while (!this.stopped) {
      let published = 0;
      try {
        this.pendingWake = false;
        published = await this.runOnce();
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
      if (published === batchSize) continue;
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
