// The bank's use cases behind one facade: transfers (group commit), deposits
// and their lookup, accounts and balances. Wiring only; each use case lives in
// its own module, retry classification in attempts.ts, SQL in src/db/. Every
// call on behalf of a user takes the verified caller (a Principal).
import { randomUUID } from 'node:crypto';
import type { Logger } from '@wallet/platform';
import type pg from 'pg';
import type { Principal } from '../domain/access.js';
import { SETTLEMENT_ACCOUNT_ID } from '../domain/ids.js';
import type { CreateAccountInput, DepositMoneyInput, TransferMoneyInput } from '../domain/requests.js';
import type { AccountBalance } from '../db/accounts.js';
import { AccountUseCase, type CreateAccountResult } from './accounts.js';
import { Attempts } from './attempts.js';
import { MonotonicClock } from './clock.js';
import { DepositUseCase, type DepositLookup, type DepositResult, type GetDepositInput } from './deposits.js';
import type { GroupCommitSettings, GroupCommitStats, SubmitOptions } from './group-commit.js';
import { AccountOwners } from './owners.js';
import { TransferUseCase, type TransferBatchReport, type TransferPhase, type TransferResult } from './transfers.js';

export type { AccountBalance, CreateAccountResult, DepositLookup, DepositResult, GetDepositInput, SubmitOptions, TransferBatchReport, TransferPhase, TransferResult };

export interface OperationLimits {
  maxTransferAmountMinor: bigint;
  maxDepositAmountMinor: bigint;
  /** Holds: expiry when CreateHold names none, and the furthest one allowed (defaults: HOLD_EXPIRY_DEFAULTS). */
  holdExpiryDefaultMs?: number;
  holdExpiryMsMax?: number;
  /** Statements (ADR 0020; defaults: STATEMENT_DEFAULTS): entries per streamed chunk, per statement, statements at once. */
  statementChunkSizeMax?: number;
  statementEntriesMax?: number;
  statementConcurrencyMax?: number;
  statementWriteWaitMsMax?: number;
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
  /** Called for each queued transfer dropped unexecuted (deadline passed or caller cancelled; metrics). */
  onTransferDropped?: (reason: 'deadline' | 'cancelled') => void;
  /** Time spent in one phase of the transfer path (metrics: bank_transfer_phase_seconds). */
  onTransferPhase?: (phase: TransferPhase, seconds: number) => void;
  /** Account owners kept in memory (owners never change). */
  ownerCacheSizeMax?: number;
}

/**
 * What a feature's use cases (issue #15: holds, reversals, refunds, limits,
 * statements, ledger verification) build on: the same pool, retry policy,
 * monotonic clock, owner cache and relay wake-up as transfers and deposits.
 */
export interface FeatureContext {
  pool: pg.Pool;
  logger: Logger;
  attempts: Attempts;
  clock: MonotonicClock;
  owners: AccountOwners;
  newId: () => string;
  onCommitted: () => void;
  settlementAccountId: string;
  limits: OperationLimits;
}

export class BankOperations {
  /** For the feature modules (src/app/<feature>.ts via src/grpc/<feature>.ts). */
  readonly context: FeatureContext;
  private readonly attempts: Attempts;
  private readonly transfers: TransferUseCase;
  private readonly deposits: DepositUseCase;
  private readonly accounts: AccountUseCase;
  readonly owners: AccountOwners;

  constructor(options: BankOperationsOptions) {
    this.attempts = new Attempts({
      pool: options.pool,
      logger: options.logger,
      poolWaitingMax: options.poolWaitingMax ?? 1_000,
      attemptsMax: options.attemptsMax ?? 3,
      onRetry: options.onRetry ?? (() => {}),
    });
    const clock = new MonotonicClock(options.clock);
    const onCommitted = options.onCommitted ?? (() => {});
    this.owners = new AccountOwners({ pool: options.pool, attempts: this.attempts, sizeMax: options.ownerCacheSizeMax ?? 100_000 });
    this.accounts = new AccountUseCase({ pool: options.pool, attempts: this.attempts, clock, owners: this.owners, newId: options.newId });
    this.transfers = new TransferUseCase({
      pool: options.pool,
      logger: options.logger,
      attempts: this.attempts,
      clock,
      owners: this.owners,
      maxAmountMinor: options.limits.maxTransferAmountMinor,
      newId: options.newId,
      onCommitted,
      groupCommit: options.groupCommit,
      onTransferBatch: options.onTransferBatch ?? (() => {}),
      ...(options.onTransferDropped ? { onDropped: options.onTransferDropped } : {}),
      ...(options.onTransferPhase ? { onPhase: options.onTransferPhase } : {}),
    });
    this.context = {
      pool: options.pool,
      logger: options.logger,
      attempts: this.attempts,
      clock,
      owners: this.owners,
      newId: options.newId ?? randomUUID,
      onCommitted,
      settlementAccountId: options.settlementAccountId ?? SETTLEMENT_ACCOUNT_ID,
      limits: options.limits,
    };
    this.deposits = new DepositUseCase({
      pool: options.pool,
      attempts: this.attempts,
      clock,
      maxAmountMinor: options.limits.maxDepositAmountMinor,
      settlementAccountId: options.settlementAccountId ?? SETTLEMENT_ACCOUNT_ID,
      newId: options.newId,
      onCommitted,
    });
  }

  /** `call` carries the caller's deadline and cancellation: a queued transfer past either is dropped unexecuted. */
  transferMoney(input: TransferMoneyInput, caller: Principal, call?: SubmitOptions): Promise<TransferResult> {
    return this.transfers.transferMoney(input, caller, call);
  }

  depositMoney(input: DepositMoneyInput): Promise<DepositResult> {
    return this.deposits.depositMoney(input);
  }

  getDeposit(input: GetDepositInput): Promise<DepositLookup> {
    return this.deposits.getDeposit(input);
  }

  getBalance(accountId: string, caller: Principal): Promise<AccountBalance> {
    return this.accounts.getBalance(accountId, caller);
  }

  createAccount(input: CreateAccountInput, caller: Principal): Promise<CreateAccountResult> {
    return this.accounts.createAccount(input, caller);
  }

  listAccounts(input: { ownerId: string }, caller: Principal): Promise<AccountBalance[]> {
    return this.accounts.listAccounts(input, caller);
  }

  /** Queue depth and running batches of transfer group commit (undefined when it is off). */
  transferQueueStats(): GroupCommitStats | undefined {
    return this.transfers.stats();
  }

  /** Shutdown: running transfer batches finish, queued transfers are shed (UNAVAILABLE, never executed). */
  async close(): Promise<void> {
    await this.transfers.close();
  }
}
