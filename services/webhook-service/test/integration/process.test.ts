// The built process (dist/main.js, what npm start, compose and Helm run):
// starts against real PostgreSQL and Kafka and is ready, stops on SIGTERM,
// and refuses configurations it cannot run safely (exit 2, naming the variable,
// never printing a secret).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokers, createTestDatabase, freePort, startService, waitForHttpOk, type ServiceProcess, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTlsEnv } from '../../../../test/support/pki.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('webhooks_process');
});

afterAll(async () => {
  await db?.drop();
});

function secretFile(name: string, value: string): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'webhook-process-')), name);
  writeFileSync(file, value);
  return file;
}

async function exitOf(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const proc: ServiceProcess = startService('webhook-service', MAIN, { WEBHOOK_GRPC_PORT: '0', WEBHOOK_OPS_PORT: '0', DATABASE_URL: db.url, ...env });
  const code = proc.child.exitCode ?? (await new Promise<number | null>((resolve) => proc.child.once('exit', resolve)));
  return { code, output: proc.logs.join('\n') };
}

describe('webhook-service process', () => {
  it('starts (migrations, gRPC, consumer, dispatcher), reports ready on /readyz and stops cleanly on SIGTERM', async () => {
    const opsPort = await freePort();
    const proc = startService('webhook-service', MAIN, {
      ...(await testTlsEnv('webhook-service')),
      DATABASE_URL: db.url,
      KAFKA_BROKERS: brokers().join(','),
      WEBHOOK_GRPC_PORT: String(await freePort()),
      WEBHOOK_OPS_PORT: String(opsPort),
    });
    try {
      await waitForHttpOk(`http://127.0.0.1:${opsPort}/readyz`, 30_000);
      const metrics = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      expect(metrics).toContain('webhook_deliveries_pending');
    } finally {
      expect(await proc.stop(30_000)).toBe(0);
    }
  });

  it('NODE_ENV=production with loopback URLs allowed: exit 2, naming WEBHOOK_ALLOW_LOOPBACK_URLS', async () => {
    const files = { DATABASE_URL: '', DATABASE_URL_FILE: secretFile('db', db.url), WEBHOOK_SECRET_KEY_FILE: secretFile('key', Buffer.alloc(32, 3).toString('base64')) };
    const { code, output } = await exitOf({ ...(await testTlsEnv('webhook-service')), ...files, NODE_ENV: 'production', WEBHOOK_ALLOW_LOOPBACK_URLS: 'true' });
    expect(code).toBe(2);
    expect(output).toContain('WEBHOOK_ALLOW_LOOPBACK_URLS');
  });

  it('NODE_ENV=production with the secret key inline: exit 2, naming WEBHOOK_SECRET_KEY, printing no secret', async () => {
    const key = Buffer.alloc(32, 9).toString('base64');
    const { code, output } = await exitOf({ ...(await testTlsEnv('webhook-service')), NODE_ENV: 'production', WEBHOOK_SECRET_KEY: key });
    expect(code).toBe(2);
    expect(output).toContain('WEBHOOK_SECRET_KEY');
    expect(output).not.toContain(key);
    expect(output).not.toContain(db.url);
  });
});
