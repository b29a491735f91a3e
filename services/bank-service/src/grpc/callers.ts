// Which service may call which RPC of the bank (ADR 0009): the caller is the
// service named by its client certificate (mutual TLS), checked before any
// handler runs. The user the call is for is still checked by the handler
// (caller.ts, ADR 0008): both must pass.
import type { BankServiceServer } from '@wallet/contracts/bank';
import type { CallerTable } from '@wallet/platform/tls';

/** Certificate identities (SAN DNS) of the bank's callers. */
export const API_GATEWAY = 'api-gateway';
export const BANK_CARD_ADAPTER = 'bank-card-adapter';
export const ANALYTICS_SERVICE = 'analytics-service';
export const WEBHOOK_SERVICE = 'webhook-service';

/**
 * One row per RPC of the generated server interface (exhaustive: a new RPC
 * without a row does not compile). Only the card adapter creates money
 * (DepositMoney) and resolves an uncertain deposit (GetDeposit); it also reads
 * a balance to check the account before charging a card.
 */
export const BANK_CALLERS: CallerTable<BankServiceServer> = {
  transferMoney: [API_GATEWAY],
  getBalance: [API_GATEWAY, BANK_CARD_ADAPTER],
  createAccount: [API_GATEWAY],
  listAccounts: [API_GATEWAY],
  depositMoney: [BANK_CARD_ADAPTER],
  getDeposit: [BANK_CARD_ADAPTER],
  // Issue #15.
  createHold: [API_GATEWAY],
  captureHold: [API_GATEWAY],
  voidHold: [API_GATEWAY],
  getHold: [API_GATEWAY],
  reverseTransfer: [API_GATEWAY],
  listReversals: [API_GATEWAY],
  refundDeposit: [BANK_CARD_ADAPTER],
  getRefund: [BANK_CARD_ADAPTER],
  cancelRefund: [BANK_CARD_ADAPTER],
  getAccountLimits: [API_GATEWAY],
  setAccountLimits: [API_GATEWAY],
  getBalanceAt: [API_GATEWAY],
  getStatement: [API_GATEWAY],
  getLedgerTotals: [ANALYTICS_SERVICE],
  verifyLedger: [API_GATEWAY],
  getAccountOwners: [WEBHOOK_SERVICE],
};
