import { loadConfig, ConfigError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { configSchema, toConfig, InvalidLimitsError } from '../../src/config.js';
import { cardFingerprint, topUpRequestHash } from '../../src/domain/fingerprint.js';
import { validateTopUp } from '../../src/domain/validation.js';

const now = new Date('2026-03-15T12:00:00Z');
const limits = { minAmountMinor: 100n, maxAmountMinor: 1_000_000n };

function request(number = '4242424242424242', amountMinor = 2_500n) {
  return validateTopUp(
    {
      accountId: '123e4567-e89b-12d3-a456-426614174000',
      amountMinor,
      currency: 'USD',
      idempotencyKey: 'k',
      card: { number, expiryMonth: 12, expiryYear: 2030, cvc: '123', holderName: '' },
    },
    now,
    limits,
  );
}

describe('card fingerprint and request hash', () => {
  it('is a keyed hash: another secret gives another fingerprint, and the number is not in it', () => {
    const a = cardFingerprint('secret-one-secret-one', '4242424242424242');
    const b = cardFingerprint('secret-two-secret-two', '4242424242424242');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toContain('4242424242424242');
  });

  it('the same request hashes the same; spaces in the number do not matter', () => {
    expect(topUpRequestHash('s'.repeat(16), request())).toBe(topUpRequestHash('s'.repeat(16), request('4242 4242 4242 4242')));
  });

  it('another amount or card is another request; the CVC is not part of it', () => {
    const secret = 's'.repeat(16);
    expect(topUpRequestHash(secret, request())).not.toBe(topUpRequestHash(secret, request('4242424242424242', 2_501n)));
    expect(topUpRequestHash(secret, request())).not.toBe(topUpRequestHash(secret, request('5555555555554444')));
    const otherCvc = { ...request(), card: { ...request().card, cvc: '999' } };
    expect(topUpRequestHash(secret, request())).toBe(topUpRequestHash(secret, otherCvc));
  });
});

describe('config', () => {
  it('has working local defaults', () => {
    const config = toConfig(loadConfig(configSchema, {}));
    expect(config.GRPC_PORT).toBe(50052);
    expect(config.OPS_PORT).toBe(9102);
    expect(config.BANK_GRPC_ADDRESS).toBe('127.0.0.1:50051');
    expect(config.PAYMENT_GATEWAY_URL).toBeUndefined();
    expect(config.MOCK_GATEWAY_FAILURE_RATE).toBe(0);
    expect(config.topUpMinAmountMinor).toBe(100n);
    expect(config.topUpMaxAmountMinor).toBe(1_000_000n);
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig(configSchema, { TOP_UP_MAX_AMOUNT: '10.001' })).toThrow(/TOP_UP_MAX_AMOUNT/);
    expect(() => loadConfig(configSchema, { MOCK_GATEWAY_FAILURE_RATE: '2' })).toThrow(ConfigError);
    expect(() => loadConfig(configSchema, { PAYMENT_GATEWAY_URL: 'not a url' })).toThrow(/PAYMENT_GATEWAY_URL/);
  });

  it('refuses a minimum above the maximum', () => {
    expect(() => toConfig(loadConfig(configSchema, { TOP_UP_MIN_AMOUNT: '20.00', TOP_UP_MAX_AMOUNT: '10.00' }))).toThrow(InvalidLimitsError);
    expect(() => toConfig(loadConfig(configSchema, { RETRY_BASE_DELAY_MS: '500', RETRY_MAX_DELAY_MS: '100' }))).toThrow(InvalidLimitsError);
  });
});
