// The bank's use cases: validate (pure, no I/O), then one transaction that
// takes the idempotency lock, looks up an earlier request, locks the account
// rows in id order, decides (pure) and writes everything in one statement.
// Failed business outcomes are not stored: a retry after adding funds may
// succeed under the same idempotency key.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, type Logger } from '@wallet/platform';
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
} from '../domain/requests.js';
import { isConflictError, isConnectionError, isUniqueViolation, toStorageError } from '../db/errors.js';
import {
  findAccountBalance,
  lockDepositContext,
  lockTransferContext,
  writeDeposits,
  writeTransfers,
  type AccountBalance,
} from '../db/ledger-repository.js';
import { withTransaction } from '../db/transaction.js';

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
  }

  async transferMoney(input: TransferMoneyInput): Promise<TransferResult> {
    const request = validateTransferRequest(input, { maxAmountMinor: this.limits.maxTransferAmountMinor });
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
    for (let attempt = 1; ; attempt += 1) {
      let writeSent = false;
      try {
        return await run(() => {
          writeSent = true;
        });
      } catch (error) {
        const cause = retryCause(error, writeSent);
        if (cause === undefined || attempt >= this.attemptsMax) {
          if (cause === 'idempotency_race') throw new IdempotencyKeyInFlightError();
          const mapped = toStorageError(error);
          if (mapped instanceof StorageUnavailableError) {
            this.logger.warn({ err: error, operation, attempt }, 'storage unavailable');
          }
          throw mapped;
        }
        this.onRetry(operation, cause);
        this.logger.debug({ err: error, operation, attempt, cause }, 'retrying after a transient database error');
        await sleep(backoffDelayMs(attempt, 10, 200));
      }
    }
  }
}

/** BEGIN plus an advisory transaction lock in the same round trip. */
function beginWithAdvisoryLock(key: bigint, mode: 'try' | 'wait'): string {
  // The key is a bigint we computed (digits and sign only), so inlining it is safe.
  const literal = BigInt.asIntN(64, key).toString();
  return mode === 'try'
    ? `BEGIN; SELECT pg_try_advisory_xact_lock(${literal}) AS locked`
    : `BEGIN; SELECT pg_advisory_xact_lock(${literal}), true AS locked`;
}
