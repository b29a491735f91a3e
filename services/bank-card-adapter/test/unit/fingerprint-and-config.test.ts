import { loadConfig, ConfigError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { configSchema, DEVELOPMENT_BANK_CREDENTIAL, DEVELOPMENT_FINGERPRINT_SECRET, toConfig, InvalidLimitsError } from '../../src/config.js';
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
    expect(config.CARD_ADAPTER_GRPC_PORT).toBe(50052);
    expect(config.CARD_ADAPTER_OPS_PORT).toBe(9102);
    expect(config.CARD_ADAPTER_BANK_GRPC_ADDRESS).toBe('127.0.0.1:50051');
    expect(config.CARD_ADAPTER_PAYMENT_GATEWAY_URL).toBe('http://127.0.0.1:9104');
    expect(config.topUpAmountMinorMin).toBe(100n);
    expect(config.topUpAmountMinorMax).toBe(1_000_000n);
    expect(config.WALLET_TEST_CRASH_POINT).toBeUndefined();
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig(configSchema, { CARD_ADAPTER_TOP_UP_AMOUNT_MAX: '10.001' })).toThrow(/CARD_ADAPTER_TOP_UP_AMOUNT_MAX/);
    expect(() => loadConfig(configSchema, { CARD_ADAPTER_RETRY_DELAY_MS_MAX: '0' })).toThrow(ConfigError);
    expect(() => loadConfig(configSchema, { CARD_ADAPTER_PAYMENT_GATEWAY_URL: 'not a url' })).toThrow(/CARD_ADAPTER_PAYMENT_GATEWAY_URL/);
  });

  it('refuses a minimum above the maximum', () => {
    expect(() => toConfig(loadConfig(configSchema, { CARD_ADAPTER_TOP_UP_AMOUNT_MIN: '20.00', CARD_ADAPTER_TOP_UP_AMOUNT_MAX: '10.00' }))).toThrow(InvalidLimitsError);
    expect(() => toConfig(loadConfig(configSchema, { CARD_ADAPTER_RETRY_DELAY_MS_MIN: '500', CARD_ADAPTER_RETRY_DELAY_MS_MAX: '100' }))).toThrow(InvalidLimitsError);
  });

  it('has no built-in card fingerprint secret outside development: production without one is a config error naming it', () => {
    expect(() => toConfig(loadConfig(configSchema, { NODE_ENV: 'production' }))).toThrow(/CARD_ADAPTER_CARD_FINGERPRINT_SECRET/);
    expect(() => toConfig(loadConfig(configSchema, { NODE_ENV: 'staging' }))).toThrow(ConfigError);
    const production = toConfig(
      loadConfig(configSchema, {
        NODE_ENV: 'production',
        CARD_ADAPTER_CARD_FINGERPRINT_SECRET: 'a-real-secret-of-32-characters!!',
        CARD_ADAPTER_BANK_CREDENTIAL: 'a-real-bank-credential-of-32-chars',
      }),
    );
    expect(production.cardFingerprintSecret).toBe('a-real-secret-of-32-characters!!');
    expect(toConfig(loadConfig(configSchema, {})).cardFingerprintSecret).toBe(DEVELOPMENT_FINGERPRINT_SECRET);
  });

  it('verifies tokens against the local identity-service by default (issuer, audience, roles claim)', () => {
    const config = toConfig(loadConfig(configSchema, {}));
    expect(config.AUTH_ISSUER).toBe('http://127.0.0.1:8090');
    expect(config.AUTH_AUDIENCE).toBe('wallet-api');
    expect(config.AUTH_ROLES_CLAIM).toBe('roles');
    expect(toConfig(loadConfig(configSchema, { AUTH_ROLES_CLAIM: 'realm_access.roles' })).AUTH_ROLES_CLAIM).toBe('realm_access.roles');
    expect(() => loadConfig(configSchema, { AUTH_ISSUER: 'not a url' })).toThrow(/AUTH_ISSUER/);
  });

  it('has a development bank credential only outside production: production without CARD_ADAPTER_BANK_CREDENTIAL is a config error naming it', () => {
    expect(toConfig(loadConfig(configSchema, {})).bankCredential).toBe(DEVELOPMENT_BANK_CREDENTIAL);
    expect(DEVELOPMENT_BANK_CREDENTIAL).toBe('dev-card-adapter-credential');
    const secret = { CARD_ADAPTER_CARD_FINGERPRINT_SECRET: 'a-real-secret-of-32-characters!!' };
    expect(() => toConfig(loadConfig(configSchema, { ...secret, NODE_ENV: 'production' }))).toThrow(/CARD_ADAPTER_BANK_CREDENTIAL/);
    expect(() => loadConfig(configSchema, { CARD_ADAPTER_BANK_CREDENTIAL: 'short' })).toThrow(/CARD_ADAPTER_BANK_CREDENTIAL/);
    const production = toConfig(loadConfig(configSchema, { ...secret, NODE_ENV: 'production', CARD_ADAPTER_BANK_CREDENTIAL: 'a-real-bank-credential-of-32-chars' }));
    expect(production.bankCredential).toBe('a-real-bank-credential-of-32-chars');
  });

  it('refuses the test crash hook when NODE_ENV=production, and an unknown crash point anywhere', () => {
    const secret = { CARD_ADAPTER_CARD_FINGERPRINT_SECRET: 'a-real-secret-of-32-characters!!' };
    expect(() => loadConfig(configSchema, { ...secret, NODE_ENV: 'production', WALLET_TEST_CRASH_POINT: 'after_charge_recorded' })).toThrow(
      /WALLET_TEST_CRASH_POINT/,
    );
    expect(() => loadConfig(configSchema, { WALLET_TEST_CRASH_POINT: 'somewhere' })).toThrow(/WALLET_TEST_CRASH_POINT/);
    expect(loadConfig(configSchema, { WALLET_TEST_CRASH_POINT: 'after_charge_recorded' }).WALLET_TEST_CRASH_POINT).toBe('after_charge_recorded');
  });
});
