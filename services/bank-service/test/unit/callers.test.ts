// The bank's caller table is the ADR 0009 contract: only the card adapter creates money.
import { BankServiceService } from '@wallet/contracts/bank';
import { describe, expect, it } from 'vitest';
import { BANK_CALLERS } from '../../src/grpc/callers.js';

describe('bank caller table', () => {
  it('has one row per RPC of the service definition, each naming at least one caller', () => {
    expect(Object.keys(BANK_CALLERS).sort()).toEqual(Object.keys(BankServiceService).sort());
    for (const row of Object.values(BANK_CALLERS)) expect(row.length).toBeGreaterThan(0);
  });

  it('lets only the card adapter deposit or resolve a deposit, and only the gateway move money or open accounts (ADR 0009)', () => {
    expect(BANK_CALLERS).toEqual({
      transferMoney: ['api-gateway'],
      getBalance: ['api-gateway', 'bank-card-adapter'],
      createAccount: ['api-gateway'],
      listAccounts: ['api-gateway'],
      depositMoney: ['bank-card-adapter'],
      getDeposit: ['bank-card-adapter'],
      // Issue #15: users' RPCs come through the gateway; refunds from the card adapter only.
      createHold: ['api-gateway'],
      captureHold: ['api-gateway'],
      voidHold: ['api-gateway'],
      getHold: ['api-gateway'],
      reverseTransfer: ['api-gateway'],
      listReversals: ['api-gateway'],
      refundDeposit: ['bank-card-adapter'],
      getRefund: ['bank-card-adapter'],
      cancelRefund: ['bank-card-adapter'],
      getAccountLimits: ['api-gateway'],
      setAccountLimits: ['api-gateway'],
      getBalanceAt: ['api-gateway'],
      getStatement: ['api-gateway'],
      getLedgerTotals: ['analytics-service'],
      verifyLedger: ['api-gateway'],
      getAccountOwners: ['webhook-service'],
    });
  });
});
