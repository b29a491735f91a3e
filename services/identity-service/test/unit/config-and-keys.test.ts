import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@wallet/platform';
import { decryptPrivateKey, encryptPrivateKey } from '../../src/app/key-crypto.js';
import { DEV_CLIENT_SECRET } from '../../src/app/users.js';
import { DEV_DATABASE_URL, DEV_KEY_ENCRYPTION_SECRET, loadIdentityConfig } from '../../src/config.js';

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

  it('refuses a short key encryption secret', () => {
    expect(() => loadIdentityConfig({ IDENTITY_KEY_ENCRYPTION_SECRET: 'short' })).toThrow(/at least 32/);
  });

  it('reads secrets from *_FILE outside production too', () => {
    const config = loadIdentityConfig({
      DATABASE_URL_FILE: secretFile('postgres://identity:from-file@db:5432/identity\n'),
      IDENTITY_KEY_ENCRYPTION_SECRET_FILE: secretFile(KEY_SECRET),
    });
    expect(config.DATABASE_URL).toBe('postgres://identity:from-file@db:5432/identity');
    expect(config.IDENTITY_KEY_ENCRYPTION_SECRET).toBe(KEY_SECRET);
  });
});

const KEY_SECRET = 'k3y-encryption-secret-from-a-file-0123456789';
const DB_URL = 'postgres://identity:a-real-password@db:5432/identity';
const dir = mkdtempSync(path.join(tmpdir(), 'identity-config-'));
let files = 0;
function secretFile(content: string): string {
  const file = path.join(dir, `secret-${(files += 1)}`);
  writeFileSync(file, content);
  return file;
}
const TLS = { TLS_CA_FILE: '/run/secrets/ca.pem', TLS_CERT_FILE: '/run/secrets/identity.pem', TLS_KEY_FILE: '/run/secrets/identity-key.pem' };
/** A production environment that starts: every secret from a file, HTTPS files set. */
const production = (): NodeJS.ProcessEnv => ({
  NODE_ENV: 'production',
  DATABASE_URL_FILE: secretFile(DB_URL),
  IDENTITY_KEY_ENCRYPTION_SECRET_FILE: secretFile(KEY_SECRET),
  ...TLS,
});

/** The ConfigError's problems (one line each, starting with the variable's name). */
function problems(source: NodeJS.ProcessEnv): string[] {
  try {
    loadIdentityConfig(source);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const lines = (error as ConfigError).problems;
    // A refusal names the variable, never the value.
    for (const secret of [KEY_SECRET, DB_URL, 'a-real-password', DEV_KEY_ENCRYPTION_SECRET, DEV_CLIENT_SECRET]) {
      expect(lines.join('\n')).not.toContain(secret);
    }
    return lines;
  }
  throw new Error('expected a ConfigError');
}

describe('identity configuration in production (NODE_ENV=production): secrets only from files', () => {
  it('starts when every secret comes from a file and the HTTPS files are set; the issuer defaults to https', () => {
    const config = loadIdentityConfig(production());
    expect(config).toMatchObject({ DATABASE_URL: DB_URL, IDENTITY_KEY_ENCRYPTION_SECRET: KEY_SECRET, IDENTITY_ISSUER: 'https://127.0.0.1:8090' });
    expect(config.tls).toMatchObject({ caFile: TLS.TLS_CA_FILE, certFile: TLS.TLS_CERT_FILE, keyFile: TLS.TLS_KEY_FILE });
  });

  it.each([
    ['DATABASE_URL', DB_URL],
    ['IDENTITY_KEY_ENCRYPTION_SECRET', KEY_SECRET],
  ])('refuses %s given inline in the environment', (name, value) => {
    const env = { ...production(), [name]: value, [`${name}_FILE`]: undefined };
    expect(problems(env)).toEqual([expect.stringMatching(new RegExp(`^${name}: a secret given inline .* set ${name}_FILE`))]);
  });

  it.each(['DATABASE_URL', 'IDENTITY_KEY_ENCRYPTION_SECRET'])('refuses a missing %s, naming %s_FILE', (name) => {
    const env = { ...production(), [`${name}_FILE`]: undefined };
    expect(problems(env)).toEqual([expect.stringMatching(new RegExp(`^${name}: missing; set ${name}_FILE`))]);
  });

  it.each([
    ['DATABASE_URL', DEV_DATABASE_URL],
    ['IDENTITY_KEY_ENCRYPTION_SECRET', DEV_KEY_ENCRYPTION_SECRET],
  ])('refuses the known development default of %s even from a file', (name, devValue) => {
    const env = { ...production(), [`${name}_FILE`]: secretFile(devValue) };
    expect(problems(env)).toEqual([expect.stringMatching(new RegExp(`^${name}: is a known development default`))]);
  });

  it('needs no key encryption secret when the signing keys come from files', () => {
    const env = { ...production(), IDENTITY_KEY_ENCRYPTION_SECRET_FILE: undefined, IDENTITY_SIGNING_KEY_FILE: '/run/secrets/signing-key.pem' };
    expect(loadIdentityConfig(env).IDENTITY_KEY_ENCRYPTION_SECRET).toBeUndefined();
  });

  it('seeding the dev users needs the dev client secret from a file, and never the published one', () => {
    const seeding = { ...production(), IDENTITY_SEED_DEV_USERS: 'true' };
    expect(problems(seeding)).toEqual([expect.stringMatching(/^IDENTITY_DEV_CLIENT_SECRET: missing; set IDENTITY_DEV_CLIENT_SECRET_FILE/)]);
    expect(problems({ ...seeding, IDENTITY_DEV_CLIENT_SECRET_FILE: secretFile(DEV_CLIENT_SECRET) })).toEqual([
      expect.stringMatching(/^IDENTITY_DEV_CLIENT_SECRET: is a known development default/),
    ]);
    expect(problems({ ...seeding, IDENTITY_DEV_CLIENT_SECRET: 'inline-client-secret-0123' })).toEqual([
      expect.stringMatching(/^IDENTITY_DEV_CLIENT_SECRET: a secret given inline/),
    ]);
    const secret = 'a-fresh-back-office-secret-42';
    expect(loadIdentityConfig({ ...seeding, IDENTITY_DEV_CLIENT_SECRET_FILE: secretFile(secret) }).IDENTITY_DEV_CLIENT_SECRET).toBe(secret);
    // Without seeding the dev client does not exist, so its secret is not asked for.
    expect(loadIdentityConfig(production()).IDENTITY_DEV_CLIENT_SECRET).toBeUndefined();
  });

  it('refuses a clients file holding a published development secret; accepts fresh secrets', () => {
    const clients = (clientSecret: string) => secretFile(JSON.stringify([{ clientId: 'back-office', clientSecret, roles: ['admin'] }]));
    expect(problems({ ...production(), IDENTITY_CLIENTS_FILE: clients(DEV_CLIENT_SECRET) })).toEqual([
      expect.stringMatching(/^IDENTITY_CLIENTS_FILE: client\(s\) back-office use a known development secret/),
    ]);
    expect(loadIdentityConfig({ ...production(), IDENTITY_CLIENTS_FILE: clients('a-fresh-client-secret-0042') }).IDENTITY_CLIENTS_FILE).toBeDefined();
    // Outside production the demo secret is fine (local runs); a broken file is a config error everywhere.
    expect(loadIdentityConfig({ IDENTITY_CLIENTS_FILE: clients(DEV_CLIENT_SECRET) }).NODE_ENV).toBe('development');
    expect(problems({ IDENTITY_CLIENTS_FILE: secretFile('[{"clientId":') })).toEqual(['IDENTITY_CLIENTS_FILE: not valid JSON']);
  });

  it('requires HTTPS (all three TLS files), naming the missing variables', () => {
    const env = { ...production(), TLS_CA_FILE: undefined, TLS_CERT_FILE: undefined, TLS_KEY_FILE: undefined };
    expect(problems(env)).toEqual([
      'TLS_CA_FILE: missing (HTTPS is required when NODE_ENV=production)',
      'TLS_CERT_FILE: missing (HTTPS is required when NODE_ENV=production)',
      'TLS_KEY_FILE: missing (HTTPS is required when NODE_ENV=production)',
    ]);
    expect(problems({ ...production(), TLS_KEY_FILE: undefined })).toEqual([expect.stringMatching(/^TLS_KEY_FILE: missing/)]);
  });
});

describe('HTTPS outside production', () => {
  it('is off without TLS files (plain HTTP issuer) and on with them (https issuer on the configured port)', () => {
    expect(loadIdentityConfig({}).tls).toBeNull();
    const config = loadIdentityConfig({ ...TLS, IDENTITY_HTTP_PORT: '18090' });
    expect(config.IDENTITY_ISSUER).toBe('https://127.0.0.1:18090');
    expect(config.tls).not.toBeNull();
    expect(loadIdentityConfig({ ...TLS, IDENTITY_ISSUER: 'https://identity-service:8090' }).IDENTITY_ISSUER).toBe('https://identity-service:8090');
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
