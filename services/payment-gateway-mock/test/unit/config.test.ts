import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { DEVELOPMENT_API_KEY, DEVELOPMENT_DATABASE_URL, loadMockConfig } from '../../src/config.js';

const TLS = { TLS_CA_FILE: '/pki/ca.pem', TLS_CERT_FILE: '/pki/payment-gateway-mock.pem', TLS_KEY_FILE: '/pki/payment-gateway-mock-key.pem' };
const SECRETS = { DATABASE_URL: 'postgres://mock:a-real-password@db:5432/mock', PAYMENT_GATEWAY_MOCK_API_KEY: 'a-real-merchant-api-key-0123456789' };

function secretFiles(values: Record<string, string>): Record<string, string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mock-secrets-'));
  return Object.fromEntries(
    Object.entries(values).map(([name, value]) => {
      const file = path.join(dir, name.toLowerCase());
      writeFileSync(file, `${value}\n`, { mode: 0o600 });
      return [`${name}_FILE`, file];
    }),
  );
}

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('payment gateway mock config', () => {
  it('works locally with defaults (dev key, dev database) and the TLS files', () => {
    const config = loadMockConfig(TLS);
    expect(config.PAYMENT_GATEWAY_MOCK_HTTP_PORT).toBe(9104);
    expect(config.PAYMENT_GATEWAY_MOCK_OPS_PORT).toBe(9106);
    expect(config.PAYMENT_GATEWAY_MOCK_API_KEY).toBe(DEVELOPMENT_API_KEY);
    expect(config.DATABASE_URL).toBe(DEVELOPMENT_DATABASE_URL);
    expect(config.tls).toMatchObject({ caFile: TLS.TLS_CA_FILE, certFile: TLS.TLS_CERT_FILE, keyFile: TLS.TLS_KEY_FILE });
  });

  it('requires mutual TLS: missing TLS files are a ConfigError naming each variable; plaintext only under the bench hook', () => {
    expect(problemsOf(() => loadMockConfig({})).map((p) => p.split(':')[0])).toEqual(['TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE']);
    expect(loadMockConfig({ WALLET_TEST_GRPC_PLAINTEXT: 'true' }).tls).toBe('plaintext');
  });

  it('production: secrets from *_FILE only; inline, missing or development values refused naming the variable, never the value', () => {
    const production = { NODE_ENV: 'production', ...TLS };
    expect(loadMockConfig({ ...production, ...secretFiles(SECRETS) }).PAYMENT_GATEWAY_MOCK_API_KEY).toBe(SECRETS.PAYMENT_GATEWAY_MOCK_API_KEY);
    const inline = problemsOf(() => loadMockConfig({ ...production, ...SECRETS }));
    expect(inline.map((p) => p.split(':')[0])).toEqual(['DATABASE_URL', 'PAYMENT_GATEWAY_MOCK_API_KEY']);
    for (const value of Object.values(SECRETS)) expect(inline.join('\n')).not.toContain(value);
    expect(problemsOf(() => loadMockConfig(production)).map((p) => p.split(':')[0])).toEqual(['DATABASE_URL', 'PAYMENT_GATEWAY_MOCK_API_KEY']);
    const dev = secretFiles({ DATABASE_URL: DEVELOPMENT_DATABASE_URL, PAYMENT_GATEWAY_MOCK_API_KEY: DEVELOPMENT_API_KEY });
    expect(problemsOf(() => loadMockConfig({ ...production, ...dev })).every((p) => p.includes('known development default'))).toBe(true);
    expect(problemsOf(() => loadMockConfig({ ...production, ...secretFiles(SECRETS), WALLET_TEST_GRPC_PLAINTEXT: 'true' }))).toContainEqual(
      expect.stringMatching(/^WALLET_TEST_GRPC_PLAINTEXT/),
    );
  });
});
