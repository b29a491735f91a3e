import { describe, expect, it } from 'vitest';
import { grpcServiceConfig, RETRY_POLICY, undecidedMethods } from '@wallet/platform';

describe('grpcServiceConfig', () => {
  const config = grpcServiceConfig({
    service: 'wallet.bank.v1.BankService',
    retryable: { GetBalance: 'a read', TransferMoney: 'idempotency key; a replay answers the first answer' },
    notRetried: { CreateAccount: 'no idempotency key' },
  });

  it('balances round_robin and retries only UNAVAILABLE, at most 3 attempts with bounded backoff, for the retryable methods', () => {
    expect(config.loadBalancingConfig).toEqual([{ round_robin: {} }]);
    expect(config.methodConfig).toEqual([
      {
        name: [
          { service: 'wallet.bank.v1.BankService', method: 'GetBalance' },
          { service: 'wallet.bank.v1.BankService', method: 'TransferMoney' },
        ],
        retryPolicy: RETRY_POLICY,
      },
      { name: [{ service: 'wallet.bank.v1.BankService', method: 'CreateAccount' }] },
    ]);
    expect(RETRY_POLICY).toMatchObject({ maxAttempts: 3, retryableStatusCodes: ['UNAVAILABLE'], maxBackoff: '0.5s' });
    expect(config.retryThrottling).toEqual({ maxTokens: 10, tokenRatio: 1 });
  });

  it('names the methods without a decision', () => {
    expect(undecidedMethods(config, 'wallet.bank.v1.BankService', ['GetBalance', 'CreateAccount', 'DepositMoney'])).toEqual(['DepositMoney']);
  });

  it('refuses a method in both tables or without a reason', () => {
    expect(() => grpcServiceConfig({ service: 's', retryable: { A: 'read' }, notRetried: { A: 'write' } })).toThrow(/both/);
    expect(() => grpcServiceConfig({ service: 's', retryable: { A: ' ' }, notRetried: {} })).toThrow(/say why/);
  });
});
