import type { GetBalanceAtResponse, GetBalanceResponse } from '@wallet/contracts/bank';
import { fromMoney, fromSignedMoney, toIsoTimestamp } from './common.js';

/** The Balance schema of openapi.yaml (issue 15: the parts of a balance). */
export interface BalanceResource {
  accountId: string;
  /** = available, kept for compatibility. */
  balance: string;
  /** Posted minus outgoing holds: what can be spent (plus the overdraft). */
  available: string;
  /** Net of pending holds: incoming minus outgoing (signed). */
  pending: string;
  /** The ledger balance: the sum of the account's entries. */
  posted: string;
  /** Admin-set credit line ("0.00": none). */
  overdraftLimit: string;
  currency: string;
  updatedAt: string;
}

/** The BalanceAt schema: the posted balance at an instant (GET …/balance?at=). */
export interface BalanceAtResource {
  accountId: string;
  balance: string;
  currency: string;
  at: string;
}

export function fromGetBalanceResponse(response: GetBalanceResponse): BalanceResource {
  const { amount, currency } = fromSignedMoney(response.balance, 'GetBalance');
  return {
    accountId: response.accountId,
    balance: amount,
    available: fromSignedMoney(response.available, 'GetBalance available').amount,
    pending: fromSignedMoney(response.pending, 'GetBalance pending').amount,
    posted: fromSignedMoney(response.posted, 'GetBalance posted').amount,
    overdraftLimit: fromMoney(response.overdraftLimit, 'GetBalance overdraftLimit').amount,
    currency,
    updatedAt: toIsoTimestamp(response.updatedAt, 'GetBalance'),
  };
}

export function fromGetBalanceAtResponse(response: GetBalanceAtResponse): BalanceAtResource {
  const { amount, currency } = fromSignedMoney(response.balance, 'GetBalanceAt');
  return { accountId: response.accountId, balance: amount, currency, at: toIsoTimestamp(response.at, 'GetBalanceAt') };
}
