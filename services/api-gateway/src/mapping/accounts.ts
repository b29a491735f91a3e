import type { Account, CreateAccountRequest, CreateAccountResponse, ListAccountsResponse } from '@wallet/contracts/bank';
import type { Principal } from '@wallet/platform/auth';
import { toIsoTimestamp, UnexpectedUpstreamResponseError } from './common.js';

// POST /accounts and GET /me <-> bank CreateAccount / ListAccounts. Pure.

/** The CreateAccountRequest schema of openapi.yaml, after validation. */
export interface CreateAccountBody {
  currency: string;
  /** Admin only: open the account for this owner (an issuer's `sub`). */
  ownerId?: string;
}

/** The Account schema of openapi.yaml. */
export interface AccountResource {
  accountId: string;
  ownerId: string;
  currency: string;
  /** The opening balance: always "0.00" (GET /accounts/{id}/balance has the current one). */
  balance: '0.00';
  /** Its parts at opening (issue #15): also "0.00"; the balance route has the current ones. */
  available: '0.00';
  pending: '0.00';
  posted: '0.00';
  createdAt: string;
}

export interface MeResource {
  userId: string;
  username: string;
  roles: string[];
  accounts: { accountId: string; currency: string }[];
}

export function toCreateAccountRequest(body: CreateAccountBody, idempotencyKey: string): CreateAccountRequest {
  return { idempotencyKey, currency: body.currency, ownerId: body.ownerId ?? '' };
}

function accountOf(account: Account | undefined, what: string): Account {
  if (!account || account.accountId === '') throw new UnexpectedUpstreamResponseError(`${what}: account missing`);
  return account;
}

/**
 * The opened account. A replay answers what the first call answered (opening
 * balance included), like transfers: status 201 plus Idempotent-Replayed.
 */
export function fromCreateAccountResponse(response: CreateAccountResponse): { account: AccountResource; replayed: boolean } {
  const account = accountOf(response.account, 'CreateAccount');
  return {
    account: {
      accountId: account.accountId,
      ownerId: account.ownerId,
      currency: account.currency,
      balance: '0.00',
      available: '0.00',
      pending: '0.00',
      posted: '0.00',
      createdAt: toIsoTimestamp(account.createdAt, 'CreateAccount'),
    },
    replayed: response.replayed,
  };
}

/** Who the caller is, from the verified token, and the accounts the bank says it owns. */
export function toMeResource(principal: Principal, response: ListAccountsResponse): MeResource {
  return {
    userId: principal.subject,
    username: principal.username ?? principal.subject,
    roles: [...principal.roles],
    accounts: response.accounts.map((a) => {
      const account = accountOf(a, 'ListAccounts');
      return { accountId: account.accountId, currency: account.currency };
    }),
  };
}
