// PostgreSQL trouble: unreachable, silent, slow or dropping connections. The
// service answers UNAVAILABLE / STORAGE_UNAVAILABLE within the call deadline
// (never a hang, never a wrong balance) and recovers by itself.
import { createServer, type Server, type Socket } from 'node:net';
import { status as Status } from '@grpc/grpc-js';
import type { BankServiceClient, TransferMoneyRequest } from '@wallet/contracts/bank';
import { callUnary, parseGrpcError, type ParsedGrpcError } from '@wallet/platform';
import { freePort, testDatabaseAdminUrl, waitFor, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { startTestCallers, type TestCallers } from '../support/callers.js';
import { bankClient, createAccounts, createMigratedDatabase, HEALTHY_LEDGER, ledgerInvariants, silentLogger, testConfig } from '../support/helpers.js';

// Generous on purpose: the assertion is "a storage error, not DEADLINE_EXCEEDED".
const CALL_DEADLINE_MS = 15_000;

const running: Array<{ service: RunningBankService; client: BankServiceClient }> = [];
let callers: TestCallers;
let adminHeaders: { authorization: string };

beforeAll(async () => {
  callers = await startTestCallers();
  adminHeaders = await callers.admin();
});

afterAll(async () => {
  await callers?.close();
});

async function start(databaseUrl: string, env: Record<string, string> = {}) {
  const service = await startBankService(await testConfig(databaseUrl, { ...callers.env, ...env }), silentLogger);
  const client = await bankClient(service.grpcPort);
  running.push({ service, client });
  return { service, client };
}

afterEach(async () => {
  for (const { service, client } of running.splice(0)) {
    client.close();
    await service.close();
  }
});

function transferRequest(sender: string, recipient: string, key: string, amountMinor = 10n): TransferMoneyRequest {
  return { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: key, description: '' };
}

async function failureOf(promise: Promise<unknown>): Promise<ParsedGrpcError> {
  try {
    await promise;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

describe('database unreachable', () => {
  it('answers UNAVAILABLE / STORAGE_UNAVAILABLE when nothing listens on the database port', async () => {
    const port = await freePort();
    const { service, client } = await start(`postgresql://wallet:wallet@127.0.0.1:${port}/bank`, { BANK_MIGRATE_ON_START: 'false' });
    const ALICE = '123e4567-e89b-12d3-a456-426614174000';
    const BOB = '987e6543-e21b-34d3-c456-426614174999';

    const transfer = await failureOf(callUnary(client, client.transferMoney, transferRequest(ALICE, BOB, 'down-1'), { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders }));
    expect([transfer.code, transfer.reason, transfer.domain]).toEqual([Status.UNAVAILABLE, 'STORAGE_UNAVAILABLE', 'bank.wallet']);
    const balance = await failureOf(callUnary(client, client.getBalance, { accountId: ALICE }, { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders }));
    expect([balance.code, balance.reason]).toEqual([Status.UNAVAILABLE, 'STORAGE_UNAVAILABLE']);

    // Alive but not ready.
    expect((await fetch(`http://127.0.0.1:${service.opsPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${service.opsPort}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: { database: string } }).checks.database).toMatch(/^unavailable/);
  });

  describe('a database that accepts connections but never answers', () => {
    let silent: Server;
    const sockets = new Set<Socket>();
    let port: number;

    beforeAll(async () => {
      silent = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      port = (silent.address() as { port: number }).port;
    });

    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    it('gives up after the connect timeout instead of hanging', async () => {
      const { client } = await start(`postgresql://wallet:wallet@127.0.0.1:${port}/bank`, {
        BANK_MIGRATE_ON_START: 'false',
        BANK_DATABASE_CONNECT_TIMEOUT_MS: '300',
      });
      const failure = await failureOf(
        callUnary(client, client.transferMoney, transferRequest('123e4567-e89b-12d3-a456-426614174000', '987e6543-e21b-34d3-c456-426614174999', 'silent-1'), {
          timeoutMs: CALL_DEADLINE_MS,
          headers: adminHeaders,
        }),
      );
      expect([failure.code, failure.reason]).toEqual([Status.UNAVAILABLE, 'STORAGE_UNAVAILABLE']);
    });
  });
});

describe('with a real database', () => {
  let db: TestDatabase;
  let admin: pg.Client;

  beforeAll(async () => {
    db = await createMigratedDatabase('bank_resilience');
    admin = new pg.Client({ connectionString: testDatabaseAdminUrl() });
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.end();
    await db?.drop();
  });

  async function terminateBankBackends(): Promise<number> {
    const { rows } = await admin.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'bank-service' AND pid <> pg_backend_pid()`,
      [db.name],
    );
    for (const { pid } of rows) await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    return rows.length;
  }

  async function countBankBackends(): Promise<number> {
    const { rows } = await admin.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'bank-service'`,
      [db.name],
    );
    return rows[0]!.n;
  }

  it('bounds a statement stuck behind a lock with the statement timeout', async () => {
    const { service, client } = await start(db.url, { BANK_DATABASE_STATEMENT_TIMEOUT_MS: '300', BANK_MIGRATE_ON_START: 'false' });
    const [from, to] = await createAccounts(service.pool, 2, 1_000n);
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM bank.accounts WHERE id = $1 FOR UPDATE', [from]);
      const failure = await failureOf(callUnary(client, client.transferMoney, transferRequest(from!, to!, 'locked-1'), { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders }));
      expect([failure.code, failure.reason, failure.metadata.cause]).toEqual([Status.UNAVAILABLE, 'STORAGE_UNAVAILABLE', 'timeout']);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    // The same key works once the lock is gone: the timed-out attempt left nothing.
    const done = await callUnary(client, client.transferMoney, transferRequest(from!, to!, 'locked-1'), { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders });
    expect(done.replayed).toBe(false);
  });

  it('recovers after its database connections are terminated', async () => {
    const { service, client } = await start(db.url, { BANK_MIGRATE_ON_START: 'false' });
    const [from, to] = await createAccounts(service.pool, 2, 100_000n);
    // Fill the pool with live connections first.
    await Promise.all(Array.from({ length: 8 }, (_, i) => callUnary(client, client.transferMoney, transferRequest(from!, to!, `warm-${i}`), { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders })));

    expect(await terminateBankBackends()).toBeGreaterThan(0);

    await waitFor(
      async () => {
        const response = await callUnary(client, client.getBalance, { accountId: from! }, { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders });
        return response.balance?.amountMinor === 100_000n - 80n;
      },
      { timeoutMs: 20_000, what: 'GetBalance to succeed after the connections were terminated' },
    );
    const after = await callUnary(client, client.transferMoney, transferRequest(from!, to!, 'after-terminate'), { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders });
    expect(after.replayed).toBe(false);
    const ready = await fetch(`http://127.0.0.1:${service.opsPort}/readyz`);
    expect(ready.status).toBe(200);
  });

  it('loses and duplicates nothing when connections die in the middle of a burst; retries with the same keys finish the job', async () => {
    const { service, client } = await start(db.url, { BANK_MIGRATE_ON_START: 'false' });
    const accounts = await createAccounts(service.pool, 10, 100_000n);
    const requests = Array.from({ length: 300 }, (_, i) => transferRequest(accounts[i % 10]!, accounts[(i * 7 + 3) % 10]!, `burst-${i}`, BigInt(1 + (i % 50))));
    const valid = requests.filter((r) => r.senderAccountId !== r.recipientAccountId);

    // Warm the pool so that many connections are busy when they are killed.
    await Promise.all(Array.from({ length: 20 }, () => callUnary(client, client.getBalance, { accountId: accounts[0]! }, { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders })));
    let settled = false;
    const burst = Promise.allSettled(valid.map((r) => callUnary(client, client.transferMoney, r, { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders }))).finally(() => {
      settled = true;
    });
    // Kill the service's backends, repeatedly, while the burst is running.
    let terminated = 0;
    for (let round = 0; round < 5 && !settled; round += 1) {
      terminated += await terminateBankBackends();
      await waitFor(async () => settled || (await countBankBackends()) >= 3, { timeoutMs: 10_000, intervalMs: 5, what: 'the pool to reconnect' });
    }
    const results = await burst;
    expect(terminated).toBeGreaterThan(0);

    const failures = results.flatMap((r) => (r.status === 'rejected' ? [parseGrpcError(r.reason)] : []));
    // Either the server said "not done, retry" or the client's own deadline passed on a loaded
    // machine (an unknown outcome: retried by key below). Never any other answer.
    for (const failure of failures) {
      const answer = [failure.code, failure.reason];
      expect([JSON.stringify([Status.UNAVAILABLE, 'STORAGE_UNAVAILABLE']), JSON.stringify([Status.DEADLINE_EXCEEDED, undefined])]).toContain(
        JSON.stringify(answer),
      );
    }

    // Clients retry with the same keys: each transfer ends up applied exactly once.
    await waitFor(
      async () => {
        const retried = await Promise.allSettled(valid.map((r) => callUnary(client, client.transferMoney, r, { timeoutMs: CALL_DEADLINE_MS, headers: adminHeaders })));
        return retried.every((r) => r.status === 'fulfilled');
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'every transfer to succeed or replay' },
    );
    const { rows } = await service.pool.query<{ n: bigint }>(`SELECT count(*) AS n FROM bank.transfers WHERE idempotency_key LIKE 'burst-%'`);
    expect(rows[0]!.n).toBe(BigInt(valid.length));
    expect(await ledgerInvariants(service.pool)).toEqual(HEALTHY_LEDGER);
  });
});
