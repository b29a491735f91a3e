// The bank's use cases behind one facade: transfers (group commit), deposits
// and their lookup, balances. Wiring only; each use case lives in its own
// module, retry classification in attempts.ts, SQL in src/db/.
import type { Logger } from '@wallet/platform';
import type pg from 'pg';
import { AccountNotFoundError } from '../domain/errors.js';
import { SETTLEMENT_ACCOUNT_ID } from '../domain/ids.js';
import { validateAccountId, type DepositMoneyInput, type TransferMoneyInput } from '../domain/requests.js';
import { findAccountBalance, type AccountBalance } from '../db/accounts.js';
import { Attempts } from './attempts.js';
import { MonotonicClock } from './clock.js';
import { DepositUseCase, type DepositLookup, type DepositResult, type GetDepositInput } from './deposits.js';
import type { GroupCommitSettings, GroupCommitStats, SubmitOptions } from './group-commit.js';
import { TransferUseCase, type TransferBatchReport, type TransferResult } from './transfers.js';

export type { DepositLookup, DepositResult, GetDepositInput, SubmitOptions, TransferBatchReport, TransferResult };

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

export class BankOperations {
  private readonly pool: pg.Pool;
  private readonly attempts: Attempts;
  private readonly transfers: TransferUseCase;
  private readonly deposits: DepositUseCase;

  constructor(options: BankOperationsOptions) {
    this.pool = options.pool;
    this.attempts = new Attempts({
      pool: options.pool,
      logger: options.logger,
      poolWaitingMax: options.poolWaitingMax ?? 1_000,
      attemptsMax: options.attemptsMax ?? 3,
      onRetry: options.onRetry ?? (() => {}),
    });
    const clock = new MonotonicClock(options.clock);
    const onCommitted = options.onCommitted ?? (() => {});
    this.transfers = new TransferUseCase({
      pool: options.pool,
      logger: options.logger,
      attempts: this.attempts,
      clock,
      maxAmountMinor: options.limits.maxTransferAmountMinor,
      newId: options.newId,
      onCommitted,
      groupCommit: options.groupCommit,
      onTransferBatch: options.onTransferBatch ?? (() => {}),
    });
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
  transferMoney(input: TransferMoneyInput, call?: SubmitOptions): Promise<TransferResult> {
    return this.transfers.transferMoney(input, call);
  }

  depositMoney(input: DepositMoneyInput): Promise<DepositResult> {
    return this.deposits.depositMoney(input);
  }

  getDeposit(input: GetDepositInput): Promise<DepositLookup> {
    return this.deposits.getDeposit(input);
  }

  async getBalance(accountIdInput: string): Promise<AccountBalance> {
    const accountId = validateAccountId(accountIdInput);
    const account = await this.attempts.run('balance', () => findAccountBalance(this.pool, accountId));
    // System accounts (settlement) are internal: not visible through the API.
    if (!account || account.kind !== 'customer') throw new AccountNotFoundError(accountId, 'account');
    return account;
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
