import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, freePort, startService, waitForHttpOk, type TestDatabase } from '@wallet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { dropTestDatabase } from '../support/db.js';
import { testFetch } from '../support/harness.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const secrets = mkdtempSync(path.join(tmpdir(), 'identity-process-secrets-'));

/** A secret file, as Docker/Kubernetes mount them. */
function secretFile(name: string, content: string): string {
  const file = path.join(secrets, name);
  writeFileSync(file, `${content}\n`, { mode: 0o600 });
  return file;
}

describe('identity-service process', () => {
  let db: TestDatabase | undefined;
  afterAll(async () => dropTestDatabase(db));

  it('starts from dist/main.js in production with every secret from a file, serves discovery over HTTPS and stops on SIGTERM with exit 0', async () => {
    db = await createTestDatabase('identity_process');
    const [httpPort, opsPort] = [await freePort(), await freePort()];
    const clientSecret = 'process-test-back-office-secret';
    const service = startService('identity-service', MAIN, {
      NODE_ENV: 'production',
      // The test runner's DATABASE_URL is in the inherited environment; production takes only the file.
      DATABASE_URL: '',
      DATABASE_URL_FILE: secretFile('database-url', db.url),
      IDENTITY_KEY_ENCRYPTION_SECRET_FILE: secretFile('key-encryption-secret', 'process-test-key-encryption-secret-0123456789'),
      IDENTITY_DEV_CLIENT_SECRET_FILE: secretFile('dev-client-secret', clientSecret),
      ...(await testTlsEnv('identity-service')),
      IDENTITY_HTTP_PORT: String(httpPort),
      IDENTITY_OPS_PORT: String(opsPort),
      IDENTITY_SEED_DEV_USERS: 'true',
      // warn: the seeding line is logged, and a slow reader of a chatty pipe cannot stall the child's exit.
      LOG_LEVEL: 'warn',
    });
    try {
      await waitForHttpOk(`http://127.0.0.1:${opsPort}/readyz`, 30_000);
      const discovery = (await (await testFetch(`https://127.0.0.1:${httpPort}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(`https://127.0.0.1:${httpPort}`);
      const token = await testFetch(`https://127.0.0.1:${httpPort}/auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'dev-back-office', client_secret: clientSecret }).toString(),
      });
      expect(token.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${opsPort}/metrics`)).status).toBe(200);
    } finally {
      // A generous grace: the shared 2-core machine can be very loaded; the service's own bound is 5 s.
      const code = await service.stop(20_000);
      expect(code, `exit ${code}; last log lines:\n${service.logs.slice(-8).join('\n')}`).toBe(0);
    }
    expect(service.logs.some((line) => line.includes('alice-wallet-demo-pw') || line.includes(clientSecret))).toBe(false);
  });

  it('refuses to start in production with an inline DATABASE_URL, no key encryption secret and no TLS files, naming each variable (exit 2)', async () => {
    const service = startService('identity-service', MAIN, { NODE_ENV: 'production', DATABASE_URL: 'postgres://identity:inline-db-password@127.0.0.1:1/none' });
    const code = await new Promise<number | null>((resolve) => service.child.once('close', resolve));
    expect(code).toBe(2);
    const output = service.logs.join('\n');
    for (const name of ['DATABASE_URL_FILE', 'IDENTITY_KEY_ENCRYPTION_SECRET_FILE', 'TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE']) expect(output).toContain(name);
    expect(output).not.toContain('inline-db-password');
  });
});
