import type { GetBalanceResponse } from '@wallet/contracts/bank';
import { fromMoney, toIsoTimestamp } from './common.js';

/** The Balance schema of openapi.yaml. */
export interface BalanceResource {
  accountId: string;
  balance: string;
  currency: string;
  updatedAt: string;
}

export function fromGetBalanceResponse(response: GetBalanceResponse): BalanceResource {
  const { amount, currency } = fromMoney(response.balance, 'GetBalance');
  return {
    accountId: response.accountId,
    balance: amount,
    currency,
    updatedAt: toIsoTimestamp(response.updatedAt, 'GetBalance'),
  };
}
