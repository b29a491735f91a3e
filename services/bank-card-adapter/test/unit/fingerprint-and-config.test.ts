import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import {
  DEVELOPMENT_DATABASE_URL,
  DEVELOPMENT_FINGERPRINT_SECRET,
  DEVELOPMENT_PAYMENT_GATEWAY_API_KEY,
  InvalidLimitsError,
  loadCardAdapterConfig,
} from '../../src/config.js';
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

/** TLS variables (config checks they are set; the files are read at start). */
const TLS = { TLS_CA_FILE: '/pki/ca.pem', TLS_CERT_FILE: '/pki/bank-card-adapter.pem', TLS_KEY_FILE: '/pki/bank-card-adapter-key.pem' };
const load = (env: Record<string, string> = {}) => loadCardAdapterConfig({ ...TLS, ...env });

/** Each secret in its own file, as Docker/Kubernetes secrets: { X_FILE: path }. */
function secretFiles(values: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'card-adapter-secrets-'));
  return Object.fromEntries(
    Object.entries(values).map(([name, value]) => {
      const file = path.join(dir, name.toLowerCase());
      writeFileSync(file, `${value}\n`, { mode: 0o600 });
      return [`${name}_FILE`, file];
    }),
  );
}

const PRODUCTION_SECRETS = {
  DATABASE_URL: 'postgres://card_adapter:a-real-password@db:5432/card_adapter',
  CARD_ADAPTER_CARD_FINGERPRINT_SECRET: 'a-real-secret-of-32-characters!!',
  CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: 'a-real-merchant-api-key-0123456789',
};

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('has working local defaults', () => {
    const config = load();
    expect(config.CARD_ADAPTER_GRPC_PORT).toBe(50052);
    expect(config.CARD_ADAPTER_OPS_PORT).toBe(9102);
    expect(config.CARD_ADAPTER_BANK_GRPC_ADDRESS).toBe('127.0.0.1:50051');
    expect(config.CARD_ADAPTER_PAYMENT_GATEWAY_URL).toBe('https://127.0.0.1:9104');
    expect(config.DATABASE_URL).toBe(DEVELOPMENT_DATABASE_URL);
    expect(config.CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY).toBe(DEVELOPMENT_PAYMENT_GATEWAY_API_KEY);
    expect(config.cardFingerprintSecret).toBe(DEVELOPMENT_FINGERPRINT_SECRET);
    expect(config.security).toMatchObject({ caFile: TLS.TLS_CA_FILE, certFile: TLS.TLS_CERT_FILE, keyFile: TLS.TLS_KEY_FILE });
    expect(config.topUpAmountMinorMin).toBe(100n);
    expect(config.topUpAmountMinorMax).toBe(1_000_000n);
    expect(config.WALLET_TEST_CRASH_POINT).toBeUndefined();
  });

  it('names the variable that is wrong', () => {
    expect(() => load({ CARD_ADAPTER_TOP_UP_AMOUNT_MAX: '10.001' })).toThrow(/CARD_ADAPTER_TOP_UP_AMOUNT_MAX/);
    expect(() => load({ CARD_ADAPTER_RETRY_DELAY_MS_MAX: '0' })).toThrow(ConfigError);
    expect(() => load({ CARD_ADAPTER_PAYMENT_GATEWAY_URL: 'not a url' })).toThrow(/CARD_ADAPTER_PAYMENT_GATEWAY_URL/);
  });

  it('names the bank by one address, a list of replicas or a dns:/// name; anything else names the variable', () => {
    expect(load({}).CARD_ADAPTER_BANK_GRPC_ADDRESS).toBe('127.0.0.1:50051');
    expect(load({ CARD_ADAPTER_BANK_GRPC_ADDRESS: '127.0.0.1:50051,127.0.0.1:50061' }).CARD_ADAPTER_BANK_GRPC_ADDRESS).toBe('ipv4:127.0.0.1:50051,127.0.0.1:50061');
    expect(load({ CARD_ADAPTER_BANK_GRPC_ADDRESS: 'dns:///bank-service:50051' }).CARD_ADAPTER_BANK_GRPC_ADDRESS).toBe('dns:///bank-service:50051');
    for (const bad of ['bank-service', 'http://bank:50051', 'dns:///a:1,b:2', ' ']) {
      expect(() => load({ CARD_ADAPTER_BANK_GRPC_ADDRESS: bad })).toThrow(/CARD_ADAPTER_BANK_GRPC_ADDRESS/);
    }
  });

  it('breaker settings have working defaults and bounds', () => {
    expect(load({})).toMatchObject({
      CARD_ADAPTER_BREAKER_RESET_TIMEOUT_MS: 5_000,
      CARD_ADAPTER_BREAKER_FAILURES_PERCENT_MAX: 50,
      CARD_ADAPTER_BREAKER_CALLS_MIN: 10,
      CARD_ADAPTER_BREAKER_WINDOW_MS: 10_000,
    });
    expect(() => load({ CARD_ADAPTER_BREAKER_FAILURES_PERCENT_MAX: '101' })).toThrow(/CARD_ADAPTER_BREAKER_FAILURES_PERCENT_MAX/);
    expect(() => load({ CARD_ADAPTER_BREAKER_CALLS_MIN: '0' })).toThrow(/CARD_ADAPTER_BREAKER_CALLS_MIN/);
  });

  it('refuses a minimum above the maximum', () => {
    expect(() => load({ CARD_ADAPTER_TOP_UP_AMOUNT_MIN: '20.00', CARD_ADAPTER_TOP_UP_AMOUNT_MAX: '10.00' })).toThrow(InvalidLimitsError);
    expect(() => load({ CARD_ADAPTER_RETRY_DELAY_MS_MIN: '500', CARD_ADAPTER_RETRY_DELAY_MS_MAX: '100' })).toThrow(InvalidLimitsError);
  });

  it('requires mutual TLS: missing TLS files are a ConfigError naming each variable', () => {
    expect(problemsOf(() => loadCardAdapterConfig({}))).toEqual([expect.stringMatching(/^TLS_CA_FILE: missing/), expect.stringMatching(/^TLS_CERT_FILE: missing/), expect.stringMatching(/^TLS_KEY_FILE: missing/)]);
    expect(problemsOf(() => loadCardAdapterConfig({ TLS_CA_FILE: TLS.TLS_CA_FILE }))).toEqual([expect.stringMatching(/^TLS_CERT_FILE/), expect.stringMatching(/^TLS_KEY_FILE/)]);
  });

  it('plaintext only under the bench hook, which production refuses; card numbers never go to an http:// gateway under mutual TLS', () => {
    expect(loadCardAdapterConfig({ WALLET_TEST_GRPC_PLAINTEXT: 'true', CARD_ADAPTER_PAYMENT_GATEWAY_URL: 'http://127.0.0.1:9104' }).security).toBe('plaintext');
    expect(problemsOf(() => load({ CARD_ADAPTER_PAYMENT_GATEWAY_URL: 'http://127.0.0.1:9104' }))).toEqual([expect.stringMatching(/^CARD_ADAPTER_PAYMENT_GATEWAY_URL: must be an https/)]);
    const production = { NODE_ENV: 'production', ...secretFiles(PRODUCTION_SECRETS) };
    expect(problemsOf(() => loadCardAdapterConfig({ ...production, WALLET_TEST_GRPC_PLAINTEXT: 'true' }))).toContainEqual(expect.stringMatching(/^WALLET_TEST_GRPC_PLAINTEXT/));
  });

  it('production: secrets come from *_FILE; inline, missing or development values are refused naming the variable, never the value', () => {
    const fromFiles = load({ NODE_ENV: 'production', ...secretFiles(PRODUCTION_SECRETS) });
    expect(fromFiles.DATABASE_URL).toBe(PRODUCTION_SECRETS.DATABASE_URL);
    expect(fromFiles.cardFingerprintSecret).toBe(PRODUCTION_SECRETS.CARD_ADAPTER_CARD_FINGERPRINT_SECRET);
    expect(fromFiles.CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY).toBe(PRODUCTION_SECRETS.CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY);

    const inline = problemsOf(() => load({ NODE_ENV: 'production', ...PRODUCTION_SECRETS }));
    expect(inline.map((p) => p.split(':')[0])).toEqual(['DATABASE_URL', 'CARD_ADAPTER_CARD_FINGERPRINT_SECRET', 'CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY']);
    for (const value of Object.values(PRODUCTION_SECRETS)) expect(inline.join('\n')).not.toContain(value);
    expect(inline.every((p) => p.includes('inline'))).toBe(true);

    expect(problemsOf(() => load({ NODE_ENV: 'production' })).map((p) => p.split(':')[0])).toEqual([
      'DATABASE_URL',
      'CARD_ADAPTER_CARD_FINGERPRINT_SECRET',
      'CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY',
    ]);
    const devValues = secretFiles({
      DATABASE_URL: DEVELOPMENT_DATABASE_URL,
      CARD_ADAPTER_CARD_FINGERPRINT_SECRET: DEVELOPMENT_FINGERPRINT_SECRET,
      CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: DEVELOPMENT_PAYMENT_GATEWAY_API_KEY,
    });
    const refused = problemsOf(() => load({ NODE_ENV: 'production', ...devValues }));
    expect(refused).toHaveLength(3);
    expect(refused.every((p) => p.includes('known development default'))).toBe(true);
  });

  it('the development fingerprint secret is refused outside development and test', () => {
    expect(() => load({ NODE_ENV: 'staging' })).toThrow(/CARD_ADAPTER_CARD_FINGERPRINT_SECRET/);
    expect(load({ NODE_ENV: 'staging', CARD_ADAPTER_CARD_FINGERPRINT_SECRET: 'a-real-secret-of-32-characters!!' }).cardFingerprintSecret).toBe('a-real-secret-of-32-characters!!');
  });

  it('no shared service credential any more: the certificate is the identity at the bank', () => {
    const config = load() as unknown as Record<string, unknown>;
    expect(Object.keys(config).filter((key) => /CREDENTIAL/i.test(key))).toEqual([]);
  });

  it('verifies tokens against the local identity-service by default (issuer, audience, roles claim)', () => {
    const config = load();
    expect(config.AUTH_ISSUER).toBe('http://127.0.0.1:8090');
    expect(config.AUTH_AUDIENCE).toBe('wallet-api');
    expect(config.AUTH_ROLES_CLAIM).toBe('roles');
    expect(load({ AUTH_ROLES_CLAIM: 'realm_access.roles' }).AUTH_ROLES_CLAIM).toBe('realm_access.roles');
    expect(() => load({ AUTH_ISSUER: 'not a url' })).toThrow(/AUTH_ISSUER/);
  });

  it('refuses the test crash hook when NODE_ENV=production, and an unknown crash point anywhere', () => {
    const production = { NODE_ENV: 'production', ...secretFiles(PRODUCTION_SECRETS) };
    expect(() => load({ ...production, WALLET_TEST_CRASH_POINT: 'after_charge_recorded' })).toThrow(/WALLET_TEST_CRASH_POINT/);
    expect(() => load({ WALLET_TEST_CRASH_POINT: 'somewhere' })).toThrow(/WALLET_TEST_CRASH_POINT/);
    expect(load({ WALLET_TEST_CRASH_POINT: 'after_charge_recorded' }).WALLET_TEST_CRASH_POINT).toBe('after_charge_recorded');
  });
});
