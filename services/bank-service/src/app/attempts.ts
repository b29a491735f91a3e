// Retry and failure classification for the use cases: which database errors
// are worth another attempt (the transaction certainly did not commit), and
// what a caller hears after the last one.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, type Logger } from '@wallet/platform';
import { isConflictError, isConnectionError, isDataError, isUniqueViolation } from '@wallet/platform/db';
import type pg from 'pg';
import { IdempotencyKeyInFlightError, InvalidArgumentError, StorageUnavailableError } from '../domain/errors.js';
import { toStorageError } from './storage-errors.js';

export type Operation = 'transfer' | 'deposit' | 'deposit_lookup' | 'balance' | 'account' | 'account_opening' | 'account_list'
  | 'refund' | 'refund_lookup' | 'refund_cancel'
  | 'reversal' | 'reversal_list' | 'ledger_verify'
  | 'hold' | 'hold_expiry'
  | 'balance_at' | 'statement';

/** Unique keys whose violation means another transaction took the same key first. */
const IDEMPOTENCY_CONSTRAINTS = [
  'transfers_sender_idempotency_key',
  'transfer_failures_pkey',
  'deposits_deposit_reference_key',
  'voided_deposit_references_pkey',
  'account_openings_pkey',
  'reversals_transfer_idempotency_key',
];

/** Errors worth another attempt: the transaction certainly did not commit. */
export function retryCause(error: unknown, writeSent: boolean): string | undefined {
  if (isConflictError(error)) return 'conflict';
  if (IDEMPOTENCY_CONSTRAINTS.some((constraint) => isUniqueViolation(error, constraint))) return 'idempotency_race';
  // A fast connection failure before the write was sent: nothing happened.
  // Timeouts are not retried (they would only multiply the wait).
  const message = (error as Error | undefined)?.message ?? '';
  if (!writeSent && isConnectionError(error) && !/timeout/i.test(message)) return 'connection';
  return undefined;
}

export interface AttemptsOptions {
  pool: pg.Pool;
  logger: Logger;
  /** Requests waiting for a connection beyond this are shed at once (UNAVAILABLE). */
  poolWaitingMax: number;
  /** Attempts per request for transient database conflicts (bounded). */
  attemptsMax: number;
  onRetry: (operation: string, cause: string) => void;
}

export class Attempts {
  constructor(private readonly options: AttemptsOptions) {}

  /** Bounded attempts with jittered backoff; infrastructure errors leave as StorageUnavailableError. */
  async run<T>(operation: Operation, body: (markWriteSent: () => void) => Promise<T>): Promise<T> {
    if (this.options.pool.waitingCount >= this.options.poolWaitingMax) throw new StorageUnavailableError('overloaded');
    try {
      return await this.retrying(operation, body);
    } catch (error) {
      throw this.finalError(operation, error);
    }
  }

  /** Bounded attempts with jittered backoff; the last error leaves unmapped. */
  async retrying<T>(operation: Operation, body: (markWriteSent: () => void) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      let writeSent = false;
      try {
        return await body(() => {
          writeSent = true;
        });
      } catch (error) {
        const cause = retryCause(error, writeSent);
        if (cause === undefined || attempt >= this.options.attemptsMax) throw error;
        this.options.onRetry(operation, cause);
        this.options.logger.debug({ err: error, operation, attempt, cause }, 'retrying after a transient database error');
        await sleep(backoffDelayMs(attempt, 10, 200));
      }
    }
  }

  /**
   * The error a caller gets after the last attempt: domain errors as they are,
   * infrastructure as StorageUnavailableError, data PostgreSQL refused as
   * INVALID_ARGUMENT (validation should have caught it: logged as an error).
   */
  finalError(operation: Operation, error: unknown, log = true): unknown {
    if (retryCause(error, true) === 'idempotency_race') return new IdempotencyKeyInFlightError();
    if (isDataError(error)) {
      this.options.logger.error({ err: error, operation }, 'the database refused request data that validation let through');
      return new InvalidArgumentError([{ field: 'request', description: 'contains a value the ledger cannot store' }]);
    }
    const mapped = toStorageError(error);
    if (log && mapped instanceof StorageUnavailableError) this.options.logger.warn({ err: error, operation }, 'storage unavailable');
    return mapped;
  }
}
