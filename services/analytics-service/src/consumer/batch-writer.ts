// Turns one partition's batch of Kafka records into stored rows and dead
// letters. Kafka-free: the consumer hands it records and gets back what to
// park, so the rules live in one place:
// - a record the contract refuses (validator) is parked with its reason;
// - rows the store refuses for good (classifyStoreFailure = rejected) are
//   found by bisecting the batch and parked as `store_rejected` with the
//   store's message; the rest of the batch is stored;
// - a transient (or unexplained) store failure is retried with capped
//   backoff, at most storeAttemptsMax times; then StoreStuckError, and the
//   consumer restarts from the last commit (nothing is lost or skipped).
import { backoffDelayMs, type Logger } from '@wallet/platform';
import { dedupeByEventId, eventToRow, type OperationRow } from '../domain/operation.js';
import type { AnalyticsMetrics } from '../metrics.js';
import { classifyStoreFailure } from '../store/errors.js';
import type { EventValidator, RejectionReason } from './validator.js';

/** Where valid rows go (the ClickHouse store in production). */
export interface OperationsSink {
  existingEventIds(rows: readonly OperationRow[]): Promise<Set<string>>;
  insert(rows: readonly OperationRow[]): Promise<void>;
}

export type DeadLetterReason = RejectionReason | 'store_rejected';

export interface DeadLetter<M> {
  message: M;
  reason: DeadLetterReason;
  detail: string;
}

export interface BatchWriterOptions {
  sink: OperationsSink;
  validator: EventValidator;
  metrics: AnalyticsMetrics;
  logger: Logger;
  storeAttemptsMax: number;
  retryDelayMsMax: number;
  /** Sleeps between attempts; resolves early when the consumer stops. */
  pause(ms: number): Promise<void>;
  /** True once a stop was requested: a failing step then gets only a few more attempts. */
  stopping(): boolean;
}

/** The store kept failing transiently for the whole attempt budget. */
export class StoreStuckError extends Error {
  constructor(attempts: number, cause: unknown) {
    super(`store still failing after ${attempts} attempts: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'StoreStuckError';
  }
}

const ATTEMPTS_AFTER_STOP = 2;
const DETAIL_CHARS_MAX = 300;

export class BatchWriter {
  constructor(private readonly options: BatchWriterOptions) {}

  /** Stores the valid rows of a batch; returns the records to park in the dead-letter topic. */
  async write<M extends { value: Buffer | undefined }>(messages: readonly M[]): Promise<DeadLetter<M>[]> {
    const { metrics } = this.options;
    const rows: { row: OperationRow; message: M }[] = [];
    const dead: DeadLetter<M>[] = [];
    for (const message of messages) {
      const result = this.options.validator.validate(message.value);
      if (!result.ok) {
        dead.push({ message, reason: result.reason, detail: result.detail });
        continue;
      }
      try {
        rows.push({ row: eventToRow(result.event), message });
      } catch (error) {
        dead.push({ message, reason: 'schema_invalid', detail: (error as Error).message });
      }
    }
    const { unique, duplicates } = dedupeByEventId(rows.map((r) => r.row));
    const refused = await this.store(unique);
    const byEventId = new Map(rows.map((r) => [r.row.eventId, r.message]));
    for (const { row, detail } of refused) dead.push({ message: byEventId.get(row.eventId)!, reason: 'store_rejected', detail });
    metrics.eventsDuplicate.inc(duplicates);
    for (const letter of dead) metrics.eventsInvalid.inc({ reason: letter.reason });
    return dead;
  }

  /** Inserts rows; returns those the store refuses for good (found by bisection). */
  private async store(rows: OperationRow[]): Promise<{ row: OperationRow; detail: string }[]> {
    if (rows.length === 0) return [];
    const failure = await this.insertWithRetry(rows);
    if (!failure) return [];
    if (rows.length === 1) return [{ row: rows[0]!, detail: String((failure as Error)?.message ?? failure).slice(0, DETAIL_CHARS_MAX) }];
    const half = Math.ceil(rows.length / 2);
    return [...(await this.store(rows.slice(0, half))), ...(await this.store(rows.slice(half)))];
  }

  /** Undefined when stored; the error when the store refuses these rows for good. */
  private async insertWithRetry(rows: OperationRow[]): Promise<unknown> {
    const { sink, metrics, logger, storeAttemptsMax, retryDelayMsMax } = this.options;
    let attemptsAfterStop = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const endTimer = metrics.insertSeconds.startTimer();
        // Looked up again on every attempt: a timed-out insert may have landed.
        const existing = await sink.existingEventIds(rows);
        const fresh = rows.filter((row) => !existing.has(row.eventId));
        await sink.insert(fresh);
        endTimer();
        metrics.eventsInserted.inc(fresh.length);
        metrics.eventsDuplicate.inc(existing.size);
        return undefined;
      } catch (error) {
        if (classifyStoreFailure(error) === 'rejected') return error;
        metrics.flushFailures.inc({ stage: 'store' });
        logger.error({ err: error, attempt, rows: rows.length }, 'store failed; retrying');
        const outOfAttempts = attempt >= storeAttemptsMax || (this.options.stopping() && ++attemptsAfterStop > ATTEMPTS_AFTER_STOP);
        if (outOfAttempts) throw new StoreStuckError(attempt, error);
        await this.options.pause(backoffDelayMs(attempt, 100, retryDelayMsMax));
      }
    }
  }
}
