import { describe, expect, it } from 'vitest';
import { ConfigError } from '@wallet/platform';
import { decryptPrivateKey, encryptPrivateKey } from '../../src/app/key-crypto.js';
import { loadIdentityConfig } from '../../src/config.js';

describe('identity configuration', () => {
  it('works with no variables outside production: port 8090, issuer http://127.0.0.1:8090, 15-minute tokens, no dev users', () => {
    const config = loadIdentityConfig({});
    expect(config).toMatchObject({
      IDENTITY_HTTP_PORT: 8090, IDENTITY_OPS_PORT: 9105, IDENTITY_ISSUER: 'http://127.0.0.1:8090', IDENTITY_AUDIENCE: 'wallet-api',
      IDENTITY_ACCESS_TOKEN_TTL_SECONDS: 900, IDENTITY_SEED_DEV_USERS: false, IDENTITY_LOGIN_FAILURES_MAX: 10, IDENTITY_LOGIN_FAILURE_WINDOW_MS: 900_000,
    });
  });

  it('refuses access tokens longer than 15 minutes', () => {
    expect(() => loadIdentityConfig({ IDENTITY_ACCESS_TOKEN_TTL_SECONDS: '901' })).toThrow(/IDENTITY_ACCESS_TOKEN_TTL_SECONDS/);
  });

  it('requires a key encryption secret in production and refuses a short one', () => {
    expect(() => loadIdentityConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadIdentityConfig({ NODE_ENV: 'production' })).toThrow(/IDENTITY_KEY_ENCRYPTION_SECRET/);
    expect(() => loadIdentityConfig({ IDENTITY_KEY_ENCRYPTION_SECRET: 'short' })).toThrow(/at least 32/);
    expect(loadIdentityConfig({ NODE_ENV: 'production', IDENTITY_KEY_ENCRYPTION_SECRET: 'k'.repeat(32) }).NODE_ENV).toBe('production');
  });
});

describe('private key encryption at rest', () => {
  it('round-trips, and fails with another secret or an altered blob', () => {
    const secret = 's'.repeat(32);
    const blob = encryptPrivateKey('{"d":"private"}', secret);
    expect(blob.toString('utf8')).not.toContain('private');
    expect(decryptPrivateKey(blob, secret)).toBe('{"d":"private"}');
    expect(() => decryptPrivateKey(blob, 't'.repeat(32))).toThrow();
    const altered = Buffer.from(blob);
    altered[altered.length - 1] = altered[altered.length - 1]! ^ 1;
    expect(() => decryptPrivateKey(altered, secret)).toThrow();
  });
});
