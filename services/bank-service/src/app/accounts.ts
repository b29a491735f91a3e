// Accounts: opening (idempotent on owner + key), listing an owner's accounts,
// and balances. Who may do which is decided by domain/access.ts from the
// verified caller; the owner is settled before any key is looked at, so a
// caller only ever reaches its own keys (or, as admin, the owner it named).
import { randomUUID } from 'node:crypto';
import { withTransaction } from '@wallet/platform/db';
import type pg from 'pg';
import { checkRead, listingOwner, openingOwner, type Principal } from '../domain/access.js';
import { AccountNotFoundError, IdempotencyKeyReusedError } from '../domain/errors.js';
import { accountOpeningLockKey, accountOpeningRequestHash } from '../domain/hashing.js';
import { isSameRequest } from '../domain/ledger.js';
import { validateAccountId, validateCreateAccountRequest, validateOwnerId, type CreateAccountInput } from '../domain/requests.js';
import { beginWithAdvisoryLock } from '../db/advisory-locks.js';
import { findAccountBalance, findAccountOpening, insertAccountOpening, listOwnerAccounts, type AccountBalance } from '../db/accounts.js';
import type { Attempts } from './attempts.js';
import type { MonotonicClock } from './clock.js';
import type { AccountOwners } from './owners.js';

/** ListAccounts answers at most this many accounts (oldest first). */
export const LIST_ACCOUNTS_SIZE_MAX = 100;

export interface CreateAccountResult {
  account: AccountBalance;
  replayed: boolean;
}

export interface AccountUseCaseOptions {
  pool: pg.Pool;
  attempts: Attempts;
  clock: MonotonicClock;
  owners: AccountOwners;
  newId?: () => string;
}

export class AccountUseCase {
  private readonly newId: () => string;

  constructor(private readonly options: AccountUseCaseOptions) {
    this.newId = options.newId ?? randomUUID;
  }

  async getBalance(accountIdInput: string, caller: Principal): Promise<AccountBalance> {
    const accountId = validateAccountId(accountIdInput);
    const found = await this.options.attempts.run('balance', () => findAccountBalance(this.options.pool, accountId));
    // System accounts (settlement) are internal: not visible through the API.
    const account = found?.kind === 'customer' ? found : undefined;
    if (account) this.options.owners.remember(account.id, account.ownerId);
    checkRead(caller, accountId, account && { ownerId: account.ownerId });
    if (!account) throw new AccountNotFoundError(accountId, 'account');
    return account;
  }

  /**
   * Opens an account with balance 0. The (owner, key) lock is waited for
   * (bounded by lock_timeout), so a concurrent duplicate replays the first
   * instead of opening a second account.
   */
  async createAccount(input: CreateAccountInput, caller: Principal): Promise<CreateAccountResult> {
    const request = validateCreateAccountRequest(input);
    const ownerId = openingOwner(caller, request.ownerId);
    const requestHash = accountOpeningRequestHash({ ownerId, currency: request.currency });
    const result = await this.options.attempts.run('account_opening', (markWriteSent) =>
      withTransaction(this.options.pool, beginWithAdvisoryLock(accountOpeningLockKey(ownerId, request.idempotencyKey)), async (client) => {
        const earlier = await findAccountOpening(client, ownerId, request.idempotencyKey);
        if (earlier) {
          if (!isSameRequest(earlier, { requestHash })) throw new IdempotencyKeyReusedError('idempotency_key');
          return { account: earlier.account, replayed: true };
        }
        markWriteSent();
        const account = await insertAccountOpening(client, {
          accountId: this.newId(),
          ownerId,
          currency: request.currency,
          idempotencyKey: request.idempotencyKey,
          requestHash,
          at: this.options.clock.next(),
        });
        return { account, replayed: false };
      }),
    );
    this.options.owners.remember(result.account.id, result.account.ownerId);
    return result;
  }

  /** The owner's accounts, oldest first, at most LIST_ACCOUNTS_SIZE_MAX. */
  async listAccounts(input: { ownerId: string }, caller: Principal): Promise<AccountBalance[]> {
    const requested = input.ownerId === '' ? undefined : validateOwnerId(input.ownerId);
    const ownerId = listingOwner(caller, requested);
    return this.options.attempts.run('account_list', () => listOwnerAccounts(this.options.pool, ownerId, LIST_ACCOUNTS_SIZE_MAX));
  }
}
