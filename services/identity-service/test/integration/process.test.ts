import { fileURLToPath } from 'node:url';
import { createTestDatabase, freePort, startService, waitForHttpOk, type TestDatabase } from '@wallet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { dropTestDatabase } from '../support/db.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

describe('identity-service process', () => {
  let db: TestDatabase | undefined;
  afterAll(async () => dropTestDatabase(db));

  it('starts from dist/main.js, is ready on the ops port, serves discovery and stops on SIGTERM with exit 0', async () => {
    db = await createTestDatabase('identity_process');
    const [httpPort, opsPort] = [await freePort(), await freePort()];
    const service = startService('identity-service', MAIN, {
      DATABASE_URL: db.url,
      IDENTITY_HTTP_PORT: String(httpPort),
      IDENTITY_OPS_PORT: String(opsPort),
      IDENTITY_ISSUER: `http://127.0.0.1:${httpPort}`,
      IDENTITY_SEED_DEV_USERS: 'true',
      // warn: the seeding line is logged, and a slow reader of a chatty pipe cannot stall the child's exit.
      LOG_LEVEL: 'warn',
    });
    try {
      await waitForHttpOk(`http://127.0.0.1:${opsPort}/readyz`, 30_000);
      const discovery = (await (await fetch(`http://127.0.0.1:${httpPort}/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(`http://127.0.0.1:${httpPort}`);
      expect((await fetch(`http://127.0.0.1:${opsPort}/metrics`)).status).toBe(200);
    } finally {
      // A generous grace: the shared 2-core machine can be very loaded; the service's own bound is 5 s.
      const code = await service.stop(20_000);
      expect(code, `exit ${code}; last log lines:\n${service.logs.slice(-8).join('\n')}`).toBe(0);
    }
    expect(service.logs.some((line) => line.includes('alice-wallet-demo-pw'))).toBe(false);
  });

  it('refuses to start in production without IDENTITY_KEY_ENCRYPTION_SECRET, naming the variable (exit 2)', async () => {
    const service = startService('identity-service', MAIN, { NODE_ENV: 'production', DATABASE_URL: 'postgres://127.0.0.1:1/none' });
    const code = await new Promise<number | null>((resolve) => service.child.once('close', resolve));
    expect(code).toBe(2);
    expect(service.logs.join('\n')).toContain('IDENTITY_KEY_ENCRYPTION_SECRET');
  });
});
