// PostgreSQL over TLS (issue 11): the server `npm test` and `npm start` run
// (scripts/lib/postgres.mjs) presents a certificate of the development CA and
// refuses plaintext; every URL handed out asks for sslmode=verify-full against
// that CA, which node-postgres and libpq (psql, pgbench) both honour.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase, testDatabaseAdminUrl } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa } from '../lib/pki.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'wallet-pg-tls-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Connects, asks whether this session is encrypted, disconnects. */
async function sessionSsl(url: string): Promise<{ ssl: boolean; version: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ ssl: boolean; version: string }>('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return rows[0]!;
  } finally {
    await client.end();
  }
}

function withParams(url: string, params: Record<string, string | null>): string {
  const copy = new URL(url);
  for (const [key, value] of Object.entries(params)) {
    if (value === null) copy.searchParams.delete(key);
    else copy.searchParams.set(key, value);
  }
  return copy.toString();
}

const psql = ['/usr/bin/psql', '/usr/local/bin/psql'].find((path) => existsSync(path));

describe('PostgreSQL over TLS', () => {
  it("hands out URLs that verify the server's certificate and name against the run's development CA", () => {
    for (const name of ['TEST_DATABASE_ADMIN_URL', 'DATABASE_URL']) {
      const url = new URL(process.env[name]!);
      expect(url.searchParams.get('sslmode'), name).toBe('verify-full');
      expect(url.searchParams.get('sslrootcert'), name).toBe(join(process.env.TEST_PKI_DIR!, 'ca.pem'));
    }
  });

  it('accepts a verify-full connection with the development CA: the session is encrypted', async () => {
    expect(await sessionSsl(testDatabaseAdminUrl())).toEqual({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
  });

  it('refuses a plaintext connection (pg_hba: hostnossl reject)', async () => {
    const plaintext = withParams(testDatabaseAdminUrl(), { sslmode: null, sslrootcert: null });
    await expect(sessionSsl(plaintext)).rejects.toThrow(/no encryption/);
    await expect(sessionSsl(withParams(testDatabaseAdminUrl(), { sslmode: 'disable', sslrootcert: null }))).rejects.toThrow(/no encryption/);
  });

  it('refuses to talk to the server when the client trusts another CA (verify-full fails before the password is sent)', async () => {
    const otherCa = join(scratch, 'other-ca.pem');
    writeFileSync(otherCa, (await createCa({ name: 'other CA' })).certPem);
    await expect(sessionSsl(withParams(testDatabaseAdminUrl(), { sslrootcert: otherCa }))).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
  });

  it("keeps the TLS parameters in a test database's URL (testkit createTestDatabase)", async () => {
    const db = await createTestDatabase('pg_tls');
    try {
      expect(new URL(db.url).searchParams.get('sslmode')).toBe('verify-full');
      expect((await sessionSsl(db.url)).ssl).toBe(true);
    } finally {
      await dropTestDatabase(db);
    }
  });

  it.skipIf(!psql)('lets libpq (psql, as pgbench) connect with the same URL, and refuses it without TLS', () => {
    const run = (url: string) => execFileSync(psql!, [url, '-At', '-c', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'], { encoding: 'utf8', stdio: 'pipe', timeout: 30_000 });
    expect(run(testDatabaseAdminUrl()).trim()).toBe('t');
    expect(() => run(withParams(testDatabaseAdminUrl(), { sslmode: 'disable', sslrootcert: null }))).toThrow(/no encryption/);
  });
});
