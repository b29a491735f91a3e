// The bank's use cases: validate (pure, no I/O), then one transaction that
// takes the idempotency lock, looks up an earlier request, locks the account
// rows in id order, decides (pure) and writes everything in one statement.
// Failed business outcomes are not stored: a retry after adding funds may
// succeed under the same idempotency key.
// Transfers go through group commit by default: concurrent requests share one
// such transaction (see group-commit.ts and domain/transfer-batch.ts), each
// still decided, idempotent and answered on its own.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, mapBounded, settled, type Logger } from '@wallet/platform';
import type pg from 'pg';
import {
  AccountNotFoundError,
  IdempotencyKeyInFlightError,
  IdempotencyKeyReusedError,
  StorageUnavailableError,
} from '../domain/errors.js';
import { depositLockKey, transferLockKey } from '../domain/hashing.js';
import { SETTLEMENT_ACCOUNT_ID } from '../domain/ids.js';
import {
  accountUpdates,
  decideDeposit,
  decideTransfer,
  InvariantViolation,
  isSameRequest,
  type DepositRecord,
  type TransferRecord,
} from '../domain/ledger.js';
import {
  validateAccountId,
  validateDepositRequest,
  validateTransferRequest,
  type DepositMoneyInput,
  type TransferMoneyInput,
  type TransferRequest,
} from '../domain/requests.js';
import { decideTransferBatch, duplicateOutcome, idempotencyScope, type TransferBatchDecision } from '../domain/transfer-batch.js';
import { isConflictError, isConnectionError, isUniqueViolation, withTransaction } from '@wallet/platform/db';
import { toStorageError } from './storage-errors.js';
import {
  findAccountBalance,
  lockDepositContext,
  lockTransferBatchContext,
  lockTransferContext,
  writeDeposits,
  writeTransfers,
  type AccountBalance,
} from '../db/ledger-repository.js';
import { GROUP_COMMIT_DEFAULTS, GroupCommitQueue, type GroupCommitSettings, type GroupCommitStats, type Settled } from './group-commit.js';

export interface OperationLimits {
  maxTransferAmountMinor: bigint;
  maxDepositAmountMinor: bigint;
}

export interface BankOperationsOptions {
  pool: pg.Pool;
  logger: Logger;
  limits: OperationLimits;
  /** Requests waiting for a connection beyond this are shed at once (UNAVAILABLE). */
  poolWaitingMax?: number;
  /** Attempts per request for transient database conflicts (bounded). */
  attemptsMax?: number;
  settlementAccountId?: string;
  clock?: () => Date;
  newId?: () => string;
  onRetry?: (operation: string, cause: string) => void;
  /** Called after a commit that wrote outbox rows (wakes the relay). */
  onCommitted?: () => void;
  /** Transfer group commit; defaults: GROUP_COMMIT_DEFAULTS (enabled). */
  groupCommit?: Partial<GroupCommitSettings>;
  /** Called once per transfer batch (metrics). */
  onTransferBatch?: (report: TransferBatchReport) => void;
}

export interface TransferBatchReport {
  size: number;
  /**
   * single: a batch of one, run on the per-request path (as without group
   * commit: nothing to share, and its SQL is the cheapest); committed: one
   * transaction answered every request; fallback: the batch failed and each
   * request was then run alone; failed: the database was unreachable, every
   * request got STORAGE_UNAVAILABLE.
   */
  outcome: 'single' | 'committed' | 'fallback' | 'failed';
}

export interface TransferResult {
  transfer: TransferRecord;
  replayed: boolean;
}

export interface DepositResult {
  deposit: DepositRecord;
  replayed: boolean;
}

type Operation = 'transfer' | 'deposit' | 'balance';

/** Errors worth another attempt: the transaction certainly did not commit. */
function retryCause(error: unknown, writeSent: boolean): string | undefined {
  if (isConflictError(error)) return 'conflict';
  if (isUniqueViolation(error, 'transfers_sender_idempotency_key') || isUniqueViolation(error, 'deposits_deposit_reference_key')) {
    return 'idempotency_race';
  }
  // A fast connection failure before the write was sent: nothing happened.
  // Timeouts are not retried (they would only multiply the wait).
  const message = (error as Error | undefined)?.message ?? '';
  if (!writeSent && isConnectionError(error) && !/timeout/i.test(message)) return 'connection';
  return undefined;
}

export class BankOperations {
  private readonly pool: pg.Pool;
  private readonly logger: Logger;
  private readonly limits: OperationLimits;
  private readonly poolWaitingMax: number;
  private readonly attemptsMax: number;
  private readonly settlementAccountId: string;
  private readonly clock: () => Date;
  private readonly newId: () => string;
  private readonly onRetry: (operation: string, cause: string) => void;
  private readonly onCommitted: () => void;
  private readonly onTransferBatch: (report: TransferBatchReport) => void;
  private readonly transferQueue: GroupCommitQueue<TransferRequest, TransferResult> | undefined;

  constructor(options: BankOperationsOptions) {
    this.pool = options.pool;
    this.logger = options.logger;
    this.limits = options.limits;
    this.poolWaitingMax = options.poolWaitingMax ?? 1_000;
    this.attemptsMax = options.attemptsMax ?? 3;
    this.settlementAccountId = options.settlementAccountId ?? SETTLEMENT_ACCOUNT_ID;
    this.clock = options.clock ?? (() => new Date());
    this.newId = options.newId ?? randomUUID;
    this.onRetry = options.onRetry ?? (() => {});
    this.onCommitted = options.onCommitted ?? (() => {});
    this.onTransferBatch = options.onTransferBatch ?? (() => {});
    const groupCommit = { ...GROUP_COMMIT_DEFAULTS, ...options.groupCommit };
    this.transferQueue = groupCommit.enabled
      ? new GroupCommitQueue<TransferRequest, TransferResult>(groupCommit, {
          execute: (batch) => this.executeTransferBatch(batch),
          keyOf: idempotencyScope,
          // The rows the batch locks: one batch at a time per account in this process.
          conflictKeysOf: (request) => [request.senderAccountId, request.recipientAccountId],
          follow: (first, request) => {
            const outcome = duplicateOutcome(
              first.ok ? { ok: true, ...first.value } : { ok: false, error: new IdempotencyKeyInFlightError() },
              request,
            );
            return outcome.ok ? { ok: true, value: { transfer: outcome.transfer, replayed: outcome.replayed } } : outcome;
          },
          onDuplicate: (request) => this.answerDuplicate(request),
          shed: () => new StorageUnavailableError('overloaded'),
        })
      : undefined;
  }

  async transferMoney(input: TransferMoneyInput): Promise<TransferResult> {
    // Cheap checks first, synchronously: a bad request never takes a queue slot.
    const request = validateTransferRequest(input, { maxAmountMinor: this.limits.maxTransferAmountMinor });
    return this.transferQueue ? this.transferQueue.submit(request) : this.transferAlone(request);
  }

  /**
   * A request whose (sender, key) is already queued or executing here: a key
   * that completed earlier replays (or is REUSED for another request), one that
   * is still executing is IN_FLIGHT (REST 409) at once — the same answers as
   * the per-request path. One lock-free lookup: a completed transfer never changes.
   */
  private async answerDuplicate(request: TransferRequest): Promise<TransferResult> {
    let existing: TransferRecord | undefined;
    try {
      ({ existing } = await lockTransferContext(this.pool, {
        senderAccountId: request.senderAccountId,
        idempotencyKey: request.idempotencyKey,
        accountIds: [],
      }));
    } catch (error) {
      throw toStorageError(error);
    }
    if (!existing) throw new IdempotencyKeyInFlightError();
    if (!isSameRequest(existing, request)) throw new IdempotencyKeyReusedError('idempotency_key');
    return { transfer: existing, replayed: true };
  }

  /** Queue depth and running batches of transfer group commit (undefined when it is off). */
  transferQueueStats(): GroupCommitStats | undefined {
    return this.transferQueue?.stats();
  }

  /** Shutdown: running transfer batches finish, queued transfers are shed (UNAVAILABLE, never executed). */
  async close(): Promise<void> {
    await this.transferQueue?.close();
  }

  /** One transfer, one transaction: the path without group commit and the fallback of a failed batch. */
  private async transferAlone(request: TransferRequest): Promise<TransferResult> {
    const lockKey = transferLockKey(request.senderAccountId, request.idempotencyKey);
    const result = await this.withAttempts('transfer', (markWriteSent) =>
      withTransaction(this.pool, beginWithAdvisoryLock(lockKey, 'try'), async (client, begin) => {
        if (begin[1]?.rows[0]?.locked !== true) throw new IdempotencyKeyInFlightError();
        const context = await lockTransferContext(client, {
          senderAccountId: request.senderAccountId,
          idempotencyKey: request.idempotencyKey,
          accountIds: [request.senderAccountId, request.recipientAccountId],
        });
        if (context.existing) {
          if (!isSameRequest(context.existing, request)) throw new IdempotencyKeyReusedError('idempotency_key');
          return { transfer: context.existing, replayed: true };
        }
        const accounts = new Map(context.accounts.map((a) => [a.id, a]));
        const createdAt = this.clock();
        const decision = decideTransfer(
          request,
          { transferId: this.newId(), createdAt, eventIds: [this.newId(), this.newId()] },
          accounts,
        );
        if (!decision.ok) throw decision.error;
        markWriteSent();
        await writeTransfers(client, [decision.plan], accountUpdates(accounts, [decision.plan]), createdAt);
        return { transfer: decision.plan.transfer, replayed: false };
      }),
    );
    if (!result.replayed) this.onCommitted();
    return result;
  }

  /**
   * One batch of distinct (sender, key) requests, in arrival order, in one
   * transaction: every key's advisory lock with BEGIN; every stored transfer
   * and every account lock in one statement; decide each in turn (pure); one
   * write; one commit. A batch of one takes the per-request path. Resolves
   * with one result per request, never throws.
   */
  private async executeTransferBatch(requests: TransferRequest[]): Promise<Array<Settled<TransferResult>>> {
    if (requests.length === 1) {
      this.onTransferBatch({ size: 1, outcome: 'single' });
      return [await settled(this.transferAlone(requests[0]!))];
    }
    const lockKeys = requests.map((r) => transferLockKey(r.senderAccountId, r.idempotencyKey));
    let decision: TransferBatchDecision;
    try {
      decision = await this.retrying('transfer', (markWriteSent) => this.transferBatchTransaction(requests, lockKeys, markWriteSent));
    } catch (error) {
      return this.afterFailedBatch(requests, error);
    }
    this.onTransferBatch({ size: requests.length, outcome: 'committed' });
    // One relay wake per commit that wrote outbox rows.
    if (decision.plans.length > 0) this.onCommitted();
    return decision.outcomes.map((o) => (o.ok ? { ok: true, value: { transfer: o.transfer, replayed: o.replayed } } : o));
  }

  private async transferBatchTransaction(
    requests: TransferRequest[],
    lockKeys: bigint[],
    markWriteSent: () => void,
  ): Promise<TransferBatchDecision> {
    return withTransaction(this.pool, beginWithTryAdvisoryLocks(lockKeys), async (client, begin) => {
      const lockedColumn: unknown = begin[1]?.rows[0]?.locked;
      const keyLocked = Array.isArray(lockedColumn) ? lockedColumn.map((locked) => locked === true) : [];
      if (keyLocked.length !== requests.length) throw new InvariantViolation(`${keyLocked.length} advisory lock results for ${requests.length} requests`);
      const candidates = requests.filter((_, i) => keyLocked[i]);
      const context = candidates.length > 0 ? await lockTransferBatchContext(client, candidates) : { existing: [], accounts: [] };
      const existing = new Map(context.existing.map((t) => [idempotencyScope(t), t]));
      const items = requests.map((request, i) => ({
        request,
        keyLocked: keyLocked[i]!,
        existing: keyLocked[i] ? existing.get(idempotencyScope(request)) : undefined,
      }));
      const createdAt = this.clock();
      const decision = decideTransferBatch(items, new Map(context.accounts.map((a) => [a.id, a])), () => ({
        transferId: this.newId(),
        createdAt,
        eventIds: [this.newId(), this.newId()],
      }));
      if (decision.plans.length > 0) {
        markWriteSent();
        await writeTransfers(client, decision.plans, decision.updates, createdAt);
      }
      return decision;
    });
  }

  /**
   * The batch did not commit (or, for a connection lost at COMMIT, maybe did:
   * then a retry with the same key replays). Never hand one request's error to
   * another: a lost database is everyone's STORAGE_UNAVAILABLE (safe to
   * retry); anything else (a statement failing for one request's data, a lock
   * or statement timeout on one account) is isolated by running each request
   * alone, with its own bounded attempts, a few at a time (bounded pool use).
   */
  private async afterFailedBatch(requests: TransferRequest[], error: unknown): Promise<Array<Settled<TransferResult>>> {
    if (isConnectionError(error)) {
      this.onTransferBatch({ size: requests.length, outcome: 'failed' });
      return requests.map((_, i) => ({ ok: false, error: this.finalError('transfer', error, i === 0) }));
    }
    this.onTransferBatch({ size: requests.length, outcome: 'fallback' });
    this.logger.warn({ err: error, size: requests.length }, 'transfer batch failed; running its requests one by one');
    return mapBounded(requests, FALLBACK_CONCURRENCY, (request) => settled(this.transferAlone(request)));
  }

  async depositMoney(input: DepositMoneyInput): Promise<DepositResult> {
    const request = validateDepositRequest(input, { maxAmountMinor: this.limits.maxDepositAmountMinor });
    // Deposits wait for a concurrent duplicate (bounded by lock_timeout) and
    // then replay it, so the card adapter always gets the deposit back.
    const lockKey = depositLockKey(request.depositReference);
    const result = await this.withAttempts('deposit', (markWriteSent) =>
      withTransaction(this.pool, beginWithAdvisoryLock(lockKey, 'wait'), async (client) => {
        const context = await lockDepositContext(client, {
          depositReference: request.depositReference,
          accountIds: [request.accountId, this.settlementAccountId],
        });
        if (context.existing) {
          if (!isSameRequest(context.existing, request)) throw new IdempotencyKeyReusedError('deposit_reference');
          return { deposit: context.existing, replayed: true };
        }
        const accounts = new Map(context.accounts.map((a) => [a.id, a]));
        const createdAt = this.clock();
        const decision = decideDeposit(
          request,
          { depositId: this.newId(), createdAt, eventId: this.newId() },
          accounts,
          this.settlementAccountId,
        );
        if (!decision.ok) throw decision.error;
        markWriteSent();
        await writeDeposits(client, [decision.plan], accountUpdates(accounts, [decision.plan]), createdAt);
        return { deposit: decision.plan.deposit, replayed: false };
      }),
    );
    if (!result.replayed) this.onCommitted();
    return result;
  }

  async getBalance(accountIdInput: string): Promise<AccountBalance> {
    const accountId = validateAccountId(accountIdInput);
    const account = await this.withAttempts('balance', () => findAccountBalance(this.pool, accountId));
    // The settlement account is internal: not visible through the API.
    if (!account || account.kind !== 'customer') throw new AccountNotFoundError(accountId, 'account');
    return account;
  }

  /** Bounded attempts with jittered backoff; infrastructure errors leave as StorageUnavailableError. */
  private async withAttempts<T>(operation: Operation, run: (markWriteSent: () => void) => Promise<T>): Promise<T> {
    if (this.pool.waitingCount >= this.poolWaitingMax) throw new StorageUnavailableError('overloaded');
    try {
      return await this.retrying(operation, run);
    } catch (error) {
      throw this.finalError(operation, error);
    }
  }

  /** Bounded attempts with jittered backoff; the last error leaves unmapped. */
  private async retrying<T>(operation: Operation, run: (markWriteSent: () => void) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      let writeSent = false;
      try {
        return await run(() => {
          writeSent = true;
        });
      } catch (error) {
        const cause = retryCause(error, writeSent);
        if (cause === undefined || attempt >= this.attemptsMax) throw error;
        this.onRetry(operation, cause);
        this.logger.debug({ err: error, operation, attempt, cause }, 'retrying after a transient database error');
        await sleep(backoffDelayMs(attempt, 10, 200));
      }
    }
  }

  /** The error a caller gets after the last attempt: domain errors as they are, infrastructure as StorageUnavailableError. */
  private finalError(operation: Operation, error: unknown, log = true): unknown {
    if (retryCause(error, true) === 'idempotency_race') return new IdempotencyKeyInFlightError();
    const mapped = toStorageError(error);
    if (log && mapped instanceof StorageUnavailableError) this.logger.warn({ err: error, operation }, 'storage unavailable');
    return mapped;
  }
}

/**
 * BEGIN plus a try-lock per key, as one boolean array in key order, in the
 * same round trip. Never waits: a key held elsewhere answers IN_FLIGHT for its
 * own request only.
 */
function beginWithTryAdvisoryLocks(keys: readonly bigint[]): string {
  // Computed bigints only (digits and sign), so inlining them is safe.
  const calls = keys.map((key) => `pg_try_advisory_xact_lock(${BigInt.asIntN(64, key).toString()})`).join(', ');
  return `BEGIN; SELECT ARRAY[${calls}] AS locked`;
}

/** Requests of a failed batch run alone at most this many at a time, in arrival order. */
const FALLBACK_CONCURRENCY = 4;

/** BEGIN plus an advisory transaction lock in the same round trip. */
function beginWithAdvisoryLock(key: bigint, mode: 'try' | 'wait'): string {
  // The key is a bigint we computed (digits and sign only), so inlining it is safe.
  const literal = BigInt.asIntN(64, key).toString();
  return mode === 'try'
    ? `BEGIN; SELECT pg_try_advisory_xact_lock(${literal}) AS locked`
    : `BEGIN; SELECT pg_advisory_xact_lock(${literal}), true AS locked`;
}
