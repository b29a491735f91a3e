// The built artefacts as operators run them: dist/main.js, the migrate and
// seed-accounts commands, and migrations applied by replicas at once.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { callUnary, EXIT_CONFIG } from '@wallet/platform';
import { createTestDatabase, startService, waitFor, type TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedAccounts } from '../../src/cli/seed.js';
import { migrateBank, MIGRATIONS_DIR } from '../../src/db/migrations.js';
import { ALICE_USER, BOB_USER, startTestCallers } from '../support/callers.js';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { rotatableBankCertificate, servedSerial } from '../support/tls.js';
import { ALICE, BOB, bankClient, createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, silentLogger, testPool } from '../support/helpers.js';

/** Every migration of the bank, by name, in order. */
const MIGRATION_NAMES = readdirSync(MIGRATIONS_DIR)
  .filter((file) => file.endsWith('.sql'))
  .map((file) => file.replace(/\.sql$/, ''))
  .sort();

const run = promisify(execFile);
const dist = (path: string) => fileURLToPath(new URL(`../../dist/${path}`, import.meta.url));

describe('migrations', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase('bank_migrations');
    pool = testPool(db.url);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('are applied by several replicas at once, exactly once, and are idempotent afterwards', async () => {
    const applied = await Promise.all([1, 2, 3].map(() => migrateBank({ databaseUrl: db.url, logger: silentLogger })));
    expect(applied.flat().sort()).toEqual(MIGRATION_NAMES);
    expect(await migrateBank({ databaseUrl: db.url, logger: silentLogger })).toEqual([]);

    const { rows } = await pool.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'bank' ORDER BY table_name`,
    );
    expect(rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'account_openings',
        'accounts',
        'deposits',
        'ledger_entries',
        'outbox',
        'pgmigrations',
        'transfer_failures',
        'transfers',
        'voided_deposit_references',
      ]),
    );
    const owners = await pool.query<{ id: string; owner_id: string | null }>('SELECT id, owner_id FROM bank.accounts ORDER BY id');
    expect(owners.rows).toEqual([
      { id: '00000000-0000-0000-0000-000000000001', owner_id: null },
      { id: ALICE, owner_id: ALICE_USER },
      { id: BOB, owner_id: BOB_USER },
    ]);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });
});

describe('command line tools', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase('bank_cli');
    pool = testPool(db.url);
    dir = mkdtempSync(join(tmpdir(), 'bank-cli-'));
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('migrate applies the schema and exits 0', async () => {
    await run(process.execPath, [dist('cli/migrate.js')], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' } });
    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.pgmigrations');
    expect(rows[0]!.n).toBe(BigInt(MIGRATION_NAMES.length));
  });

  it('seed-accounts creates N funded accounts, writes their ids to --out and keeps the ledger whole', async () => {
    const out = join(dir, 'ids.txt');
    await run(process.execPath, [dist('cli/seed-accounts.js'), '--count', '2500', '--balance', '12.34', '--out', out], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
    });
    const ids = readFileSync(out, 'utf8').trim().split('\n');
    expect(ids).toHaveLength(2500);
    expect(new Set(ids).size).toBe(2500);
    const { rows } = await pool.query<{ n: bigint; min: bigint; max: bigint }>(
      'SELECT count(*) AS n, min(balance_minor) AS min, max(balance_minor) AS max FROM bank.accounts WHERE id = ANY($1)',
      [ids],
    );
    expect(rows[0]).toEqual({ n: 2500n, min: 1234n, max: 1234n });
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('seed-accounts prints ids to stdout without --out, and seeding works in several batches', async () => {
    const { stdout } = await run(process.execPath, [dist('cli/seed-accounts.js'), '--count', '3'], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
    });
    expect(stdout.trim().split('\n')).toHaveLength(3);
    const batches: number[] = [];
    await seedAccounts(pool, { count: 2_500, balanceMinor: 1n, currency: 'USD', batchSize: 1_000, onBatch: (ids) => batches.push(ids.length) });
    expect(batches).toEqual([1_000, 1_000, 500]);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('seed-accounts --owners assigns owners round-robin and --format jsonl prints each account with its owner', async () => {
    const { stdout } = await run(process.execPath, [dist('cli/seed-accounts.js'), '--count', '5', '--owners', 'user-a, user-b', '--format', 'jsonl'], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
    });
    const printed = stdout.trim().split('\n').map((line) => JSON.parse(line) as { accountId: string; ownerId: string });
    expect(printed.map((a) => a.ownerId)).toEqual(['user-a', 'user-b', 'user-a', 'user-b', 'user-a']);
    const { rows } = await pool.query<{ id: string; owner_id: string }>('SELECT id, owner_id FROM bank.accounts WHERE id = ANY($1)', [printed.map((a) => a.accountId)]);
    expect(new Map(rows.map((r) => [r.id, r.owner_id]))).toEqual(new Map(printed.map((a) => [a.accountId, a.ownerId])));
  });

  it('seed-accounts --owners-file reads one owner per line and keeps the rotation across batches', async () => {
    const file = join(dir, 'owners.txt');
    writeFileSync(file, 'owner-1\nowner-2\n\nowner-3\n');
    const owners: Array<string | null> = [];
    await seedAccounts(pool, { count: 7, balanceMinor: 1n, currency: 'USD', batchSize: 3, ownerIds: ['owner-1', 'owner-2', 'owner-3'], onBatch: (_ids, o) => owners.push(...o) });
    expect(owners).toEqual(['owner-1', 'owner-2', 'owner-3', 'owner-1', 'owner-2', 'owner-3', 'owner-1']);
    const { stdout } = await run(process.execPath, [dist('cli/seed-accounts.js'), '--count', '4', '--owners-file', file], {
      env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
    });
    // Without --format the output stays one id per line, as before.
    const ids = stdout.trim().split('\n');
    const { rows } = await pool.query<{ owner_id: string }>('SELECT owner_id FROM bank.accounts WHERE id = ANY($1) ORDER BY array_position($1::uuid[], id)', [ids]);
    expect(rows.map((r) => r.owner_id)).toEqual(['owner-1', 'owner-2', 'owner-3', 'owner-1']);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('seed-accounts refuses --owners together with --owners-file, and an unknown --format', async () => {
    const env = { ...process.env, DATABASE_URL: db.url };
    await expect(run(process.execPath, [dist('cli/seed-accounts.js'), '--owners', 'a', '--owners-file', 'x'], { env })).rejects.toMatchObject({ code: 2 });
    await expect(run(process.execPath, [dist('cli/seed-accounts.js'), '--format', 'xml'], { env })).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--format'),
    });
  });

  it('seed-accounts refuses a malformed balance', async () => {
    await expect(
      run(process.execPath, [dist('cli/seed-accounts.js'), '--count', '1', '--balance', '1.234'], { env: { ...process.env, DATABASE_URL: db.url } }),
    ).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('--balance') });
  });
});

describe('dist/main.js', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createMigratedDatabase('bank_process');
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('logs its bound ports, serves gRPC to alice over mTLS, takes a new certificate on SIGHUP without restart, and stops cleanly on SIGTERM', async () => {
    const callers = await startTestCallers();
    const certificate = await rotatableBankCertificate();
    const service = startService('bank-service', dist('main.js'), {
      ...(await testTlsEnv('bank-service')),
      ...certificate.env,
      // SIGHUP only: the reload below cannot come from the timer.
      TLS_RELOAD_INTERVAL_MS: '0',
      DATABASE_URL: db.url,
      BANK_GRPC_PORT: '0',
      BANK_OPS_PORT: '0',
      LOG_LEVEL: 'info',
      ...callers.env,
    });
    try {
      const listening = await waitFor(
        () => service.logs.map((line) => JSON.parse(line) as { msg: string; grpcPort?: number; opsPort?: number }).find((l) => l.msg === 'listening'),
        { timeoutMs: 40_000, what: 'the listening log line (a cold import of the Kafka client alone takes ~15 s on a loaded 2-core machine)' },
      );
      expect(listening.grpcPort).toBeGreaterThan(0);
      const client = await bankClient(listening.grpcPort!);
      try {
        const headers = await callers.as(ALICE_USER);
        const balance = () => callUnary(client, client.getBalance, { accountId: ALICE }, { timeoutMs: 10_000, headers });
        expect((await balance()).balance).toEqual({ amountMinor: 100_000n, currencyCode: 'USD' });
        expect(await servedSerial(listening.grpcPort!)).toBe(certificate.serial);
        const rotated = await certificate.rotate();
        service.child.kill('SIGHUP');
        await waitFor(async () => (await servedSerial(listening.grpcPort!)) === rotated, { timeoutMs: 15_000, what: 'new connections to see the certificate reloaded on SIGHUP' });
        // The same process (no restart), and the connection opened before still answers.
        expect(service.child.exitCode).toBeNull();
        expect((await balance()).balance).toEqual({ amountMinor: 100_000n, currencyCode: 'USD' });
      } finally {
        client.close();
      }
      expect(await service.stop(10_000)).toBe(0);
      expect(service.logs.join('\n')).toContain('tls certificate reloaded');
    } finally {
      await service.kill();
      await callers.close();
      rmSync(certificate.dir, { recursive: true, force: true });
    }
  });

  /** Exit code and output of a start that must fail (it never listens). */
  async function refusedStart(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    const service = startService('bank-service', dist('main.js'), env);
    const code = await new Promise<number | null>((resolve) => service.child.once('exit', resolve));
    return { code, output: service.logs.join('\n') };
  }

  it('refuses to start without TLS_CA_FILE (mutual TLS is required in every mode) and names it', async () => {
    const { TLS_CA_FILE: _ca, ...withoutCa } = await testTlsEnv('bank-service');
    const refused = await refusedStart({ ...withoutCa, DATABASE_URL: db.url });
    expect(refused.code).toBe(EXIT_CONFIG);
    expect(refused.output).toContain('TLS_CA_FILE');
  });

  it('refuses DATABASE_URL given inline under NODE_ENV=production (a secret comes from DATABASE_URL_FILE there), without printing it', async () => {
    const refused = await refusedStart({ ...(await testTlsEnv('bank-service')), DATABASE_URL: db.url, NODE_ENV: 'production' });
    expect(refused.code).toBe(EXIT_CONFIG);
    expect(refused.output).toContain('DATABASE_URL');
    expect(refused.output).toContain('DATABASE_URL_FILE');
    expect(refused.output).not.toContain(db.url);
  });

  it('refuses to start with an invalid variable and names it', async () => {
    const service = startService('bank-service', dist('main.js'), { ...(await testTlsEnv('bank-service')), DATABASE_URL: db.url, BANK_GRPC_PORT: 'not-a-port' });
    const code = await new Promise<number | null>((resolve) => service.child.once('exit', resolve));
    expect(code).toBe(EXIT_CONFIG);
    expect(service.logs.join('\n')).toContain('BANK_GRPC_PORT');
  });
});
