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
// - Store steps of concurrent batches (the partitions' lanes) are grouped:
//   one lookup and one insert for all the batches waiting, like a group
//   commit (issue 14). Each store query has a fixed cost of several ms of CPU
//   in the engine whatever its size, so a lookup + insert per lane per flush
//   made a short linger expensive. A group starts at most every
//   storeIntervalMsMin; while one runs, the next batches gather. When a
//   group's step fails, each of its batches takes the path above on its own
//   (its own lookup, retries and bisection): one partition's bad or stuck
//   rows never fail or park another's.
import { backoffDelayMs, type Logger } from '@wallet/platform';
import { dedupeByEventId, eventToRow, type OperationRow } from '../domain/operation.js';
import type { AnalyticsMetrics } from '../metrics.js';
import { classifyStoreFailure } from '../store/errors.js';
import type { StoreTarget } from '../store/spans.js';
import { spanClockMs } from './record-spans.js';
import type { EventValidator, RejectionReason } from './validator.js';

/** Where valid rows go (the ClickHouse store in production). */
export interface OperationsSink {
  /** The table the rows go to, named in the consumer's insert spans. */
  readonly target?: StoreTarget;
  existingEventIds(rows: readonly OperationRow[]): Promise<Set<string>>;
  insert(rows: readonly OperationRow[]): Promise<void>;
}

export type DeadLetterReason = RejectionReason | 'store_rejected';

export interface DeadLetter<M> {
  message: M;
  reason: DeadLetterReason;
  detail: string;
}

/** When the insert that stored a row ran (ms since the epoch, sub-millisecond), and how many rows it stored. */
export interface InsertTiming {
  startTimeMs: number;
  endTimeMs: number;
  rows: number;
}

/** What became of every record of a batch: exactly one of the three lists holds it. */
export interface WriteResult<M> {
  /** Stored now, with the insert that stored it. */
  inserted: { message: M; insert: InsertTiming }[];
  /** Already stored (earlier delivery) or repeated within the batch: nothing to do. */
  duplicates: M[];
  /** To park in the dead-letter topic. */
  dead: DeadLetter<M>[];
  /** Accounts whose rows of this batch are now in the store (inserted now or already there). */
  accountIds: Set<string>;
}

export interface BatchWriterOptions {
  sink: OperationsSink;
  validator: EventValidator;
  metrics: AnalyticsMetrics;
  logger: Logger;
  storeAttemptsMax: number;
  retryDelayMsMax: number;
  /** Least time between the starts of two grouped store steps (0 = back to back). */
  storeIntervalMsMin?: number;
  /** Most rows one grouped store step takes; the rest wait for the next. */
  storeRowsMax?: number;
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
/** Default bound of a grouped store step's rows. */
const STORE_ROWS_MAX_DEFAULT = 10_000;

/** A batch's rows waiting for the next grouped store step; done(true) = stored. */
interface GroupEntry {
  rows: OperationRow[];
  timings: Map<string, InsertTiming>;
  done(stored: boolean): void;
}

export class BatchWriter {
  private readonly waiting: GroupEntry[] = [];
  private grouping: Promise<void> | undefined;
  private lastGroupStartMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: BatchWriterOptions) {}

  /** Stores the valid rows of a batch; says what became of each record (dead ones are to be parked). */
  async write<M extends { value: Buffer | undefined }>(messages: readonly M[]): Promise<WriteResult<M>> {
    const { metrics } = this.options;
    const rows: { eventId: string; row: OperationRow; message: M }[] = [];
    const dead: DeadLetter<M>[] = [];
    for (const message of messages) {
      const result = this.options.validator.validate(message.value);
      if (!result.ok) {
        dead.push({ message, reason: result.reason, detail: result.detail });
        continue;
      }
      try {
        const row = eventToRow(result.event);
        rows.push({ eventId: row.eventId, row, message });
      } catch (error) {
        dead.push({ message, reason: 'schema_invalid', detail: (error as Error).message });
      }
    }
    const { unique, duplicates: repeated } = dedupeByEventId(rows);
    const timings = new Map<string, InsertTiming>();
    const refused = await this.store(unique.map((r) => r.row), timings);
    const refusedDetail = new Map(refused.map(({ row, detail }) => [row.eventId, detail]));
    for (const entry of unique) {
      const detail = refusedDetail.get(entry.eventId);
      if (detail !== undefined) dead.push({ message: entry.message, reason: 'store_rejected', detail });
    }
    const firsts = new Set(unique);
    const inserted: WriteResult<M>['inserted'] = [];
    const duplicates: M[] = [];
    const accountIds = new Set<string>();
    for (const entry of rows) {
      if (firsts.has(entry) && refusedDetail.has(entry.eventId)) continue;
      accountIds.add(entry.row.accountId);
      const insert = firsts.has(entry) ? timings.get(entry.eventId) : undefined;
      if (insert) inserted.push({ message: entry.message, insert });
      else duplicates.push(entry.message);
    }
    metrics.eventsDuplicate.inc(repeated);
    for (const letter of dead) metrics.eventsInvalid.inc({ reason: letter.reason });
    return { inserted, duplicates, dead, accountIds };
  }

  /** Inserts rows (noting when each stored row was inserted); returns those the store refuses for good (found by bisection). */
  private async store(rows: OperationRow[], timings: Map<string, InsertTiming>): Promise<{ row: OperationRow; detail: string }[]> {
    if (rows.length === 0) return [];
    if (await this.storeGrouped(rows, timings)) return [];
    return this.storeAlone(rows, timings);
  }

  /** Joins the next grouped store step; false when that step failed (then the batch goes alone). */
  private storeGrouped(rows: OperationRow[], timings: Map<string, InsertTiming>): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting.push({ rows, timings, done: resolve });
      this.grouping ??= this.runGroups().finally(() => {
        this.grouping = undefined;
      });
    });
  }

  /** Runs grouped steps while batches wait, each at most storeIntervalMsMin after the previous one's start. */
  private async runGroups(): Promise<void> {
    const intervalMs = this.options.storeIntervalMsMin ?? 0;
    const rowsMax = this.options.storeRowsMax ?? STORE_ROWS_MAX_DEFAULT;
    while (this.waiting.length > 0) {
      const waitMs = this.lastGroupStartMs + intervalMs - performance.now();
      if (waitMs > 0 && !this.options.stopping()) await this.options.pause(waitMs);
      this.lastGroupStartMs = performance.now();
      const group: GroupEntry[] = [];
      let rowCount = 0;
      while (this.waiting.length > 0 && (group.length === 0 || rowCount + this.waiting[0]!.rows.length <= rowsMax)) {
        const entry = this.waiting.shift()!;
        group.push(entry);
        rowCount += entry.rows.length;
      }
      await this.storeGroup(group);
    }
  }

  /** One lookup and one insert for every batch of the group; on failure each batch is told to go alone. */
  private async storeGroup(group: GroupEntry[]): Promise<void> {
    const { sink, metrics, logger } = this.options;
    const rows = group.flatMap((entry) => entry.rows);
    let existing: Set<string>;
    let insert: InsertTiming;
    try {
      const endTimer = metrics.insertSeconds.startTimer();
      existing = await sink.existingEventIds(rows);
      const fresh = rows.filter((row) => !existing.has(row.eventId));
      const startTimeMs = spanClockMs();
      await sink.insert(fresh);
      insert = { startTimeMs, endTimeMs: spanClockMs(), rows: fresh.length };
      endTimer();
    } catch (error) {
      // Not counted as a flush failure: each batch now retries alone, and that path counts and logs.
      logger.debug({ err: error, batches: group.length, rows: rows.length }, 'grouped store step failed; each batch is stored on its own');
      for (const entry of group) entry.done(false);
      return;
    }
    metrics.eventsDuplicate.inc(existing.size);
    for (const entry of group) {
      const fresh = entry.rows.filter((row) => !existing.has(row.eventId));
      if (fresh.length > 0) this.inserted(fresh, insert, entry.timings);
      entry.done(true);
    }
  }

  /** A batch on its own: retried, and bisected when the store refuses some of its rows for good. */
  private async storeAlone(rows: OperationRow[], timings: Map<string, InsertTiming>): Promise<{ row: OperationRow; detail: string }[]> {
    if (rows.length === 0) return [];
    const failure = await this.insertWithRetry(rows, timings);
    if (!failure) return [];
    if (rows.length === 1) return [{ row: rows[0]!, detail: String((failure as Error)?.message ?? failure).slice(0, DETAIL_CHARS_MAX) }];
    const half = Math.ceil(rows.length / 2);
    return [...(await this.storeAlone(rows.slice(0, half), timings)), ...(await this.storeAlone(rows.slice(half), timings))];
  }

  /** Undefined when stored; the error when the store refuses these rows for good. */
  private async insertWithRetry(rows: OperationRow[], timings: Map<string, InsertTiming>): Promise<unknown> {
    const { sink, metrics, logger, storeAttemptsMax, retryDelayMsMax } = this.options;
    let attemptsAfterStop = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const endTimer = metrics.insertSeconds.startTimer();
        // Looked up again on every attempt: a timed-out insert may have landed.
        const existing = await sink.existingEventIds(rows);
        const fresh = rows.filter((row) => !existing.has(row.eventId));
        const startTimeMs = spanClockMs();
        await sink.insert(fresh);
        const endTimeMs = spanClockMs();
        endTimer();
        metrics.eventsDuplicate.inc(existing.size);
        if (fresh.length > 0) this.inserted(fresh, { startTimeMs, endTimeMs, rows: fresh.length }, timings);
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

  /** Counts rows just stored and how late they arrived (event time -> durable), for freshness alerts. */
  private inserted(fresh: OperationRow[], insert: InsertTiming, timings: Map<string, InsertTiming>): void {
    const { metrics } = this.options;
    metrics.eventsInserted.inc(fresh.length);
    metrics.lastInsertTimestamp.set(insert.endTimeMs / 1000);
    const endMicros = BigInt(Math.round(insert.endTimeMs * 1000));
    for (const row of fresh) {
      timings.set(row.eventId, insert);
      // A bank clock ahead of ours would make it negative: counted as no delay.
      const delayMicros = endMicros > row.createdAtMicros ? endMicros - row.createdAtMicros : 0n;
      metrics.eventDelaySeconds.observe(Number(delayMicros) / 1e6);
    }
  }
}
