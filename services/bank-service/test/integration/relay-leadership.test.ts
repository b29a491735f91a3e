// Outbox relay leadership across two bank processes on one database (C4):
// exactly one leads (advisory lock on a session named bank-service/<replica>,
// gauge bank_outbox_relay_leader, /readyz detail); the leader killed with -9
// while transfers keep committing is replaced, and the survivor publishes
// within 5 s; on Kafka, per account, the first copy of every event is in
// commit order across the handover, and every event arrives. A leader that is
// frozen (SIGSTOP), not dead, loses the lock to PostgreSQL's idle session
// timeout, and steps down when it wakes.
import { fileURLToPath } from 'node:url';
import { parseAmountMinor } from '@wallet/platform';
import { createTopics, readAllRecords, startService, uniqueName, waitFor, type ServiceProcess, type TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import { ADMIN, startTestCallers, type TestCallers } from '../support/callers.js';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { ALICE, BOB, createMigratedDatabase, testOperations, testPool } from '../support/helpers.js';

const dist = (path: string) => fileURLToPath(new URL(`../../dist/${path}`, import.meta.url));
/** The contract (C4): a dead leader is replaced, and the survivor publishes, within this. */
const TAKEOVER_MS_MAX = 5_000;
/** Relay timings of these replicas: the leader session's idle timeout is max(poll, 2 x retry max, publish) + 5 s = 11 s. */
const PUBLISH_TIMEOUT_MS = 6_000;
const LEADER_IDLE_TIMEOUT_MS = PUBLISH_TIMEOUT_MS + 5_000;

interface Replica {
  id: string;
  process: ServiceProcess;
  opsPort: number;
}

let db: TestDatabase;
let pool: pg.Pool;
let callers: TestCallers;
let ops: BankOperations;
let topic: string;
const replicas: Replica[] = [];

async function startReplica(id: string): Promise<Replica> {
  const process = startService(`bank-${id}`, dist('main.js'), {
    ...(await testTlsEnv('bank-service')),
    ...callers.env,
    DATABASE_URL: db.url,
    KAFKA_BROKERS: globalThis.process.env.KAFKA_BROKERS ?? '',
    BANK_KAFKA_OPERATIONS_TOPIC: topic,
    BANK_REPLICA_ID: id,
    BANK_OUTBOX_POLL_INTERVAL_MS: '50',
    BANK_OUTBOX_BATCH_SIZE_MAX: '20',
    BANK_KAFKA_REQUEST_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS / 3),
    BANK_OUTBOX_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
    BANK_OUTBOX_RETRY_DELAY_MS_MAX: '1000',
    BANK_GRPC_PORT: '0',
    BANK_OPS_PORT: '0',
    LOG_LEVEL: 'info',
  });
  const listening = await waitFor(
    () => process.logs.map((line) => JSON.parse(line) as { msg: string; opsPort?: number }).find((l) => l.msg === 'listening'),
    { timeoutMs: 90_000, what: `bank replica ${id} to listen (a cold start takes ~15 s, over 40 s on a machine with load 30)` },
  );
  return { id, process, opsPort: listening.opsPort! };
}

/** The application_name of the session holding an advisory lock in the test database (the relay's), if any. */
async function lockHolder(): Promise<string | undefined> {
  const { rows } = await pool.query<{ application_name: string }>(
    `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND a.application_name LIKE 'bank-service/%'`,
  );
  return rows.length === 1 ? rows[0]!.application_name : undefined;
}

async function leaderGauge(replica: Replica): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.opsPort}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  // The registry may add default labels: bank_outbox_relay_leader{service="..."} 1
  const match = /^bank_outbox_relay_leader(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return Number(match?.[1]);
}

async function relayDetail(replica: Replica): Promise<unknown> {
  const body = (await (await fetch(`http://127.0.0.1:${replica.opsPort}/readyz`, { signal: AbortSignal.timeout(5_000) })).json()) as { detail?: { relay?: string } };
  return body.detail?.relay;
}

let sequence = 0;
/** One transfer between ALICE and BOB (alternating): its amount is its place in commit order, as the writer is sequential. */
async function transferNext(): Promise<void> {
  sequence += 1;
  const [from, to] = sequence % 2 === 0 ? [ALICE, BOB] : [BOB, ALICE];
  await ops.transferMoney(
    { senderAccountId: from, recipientAccountId: to, amount: { amountMinor: BigInt(sequence), currencyCode: 'USD' }, idempotencyKey: `seq-${sequence}`, description: '' },
    ADMIN,
  );
}

async function outboxRowsUpTo(id: bigint): Promise<number> {
  const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.outbox WHERE id <= $1', [id]);
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  db = await createMigratedDatabase('bank_relay_leader');
  pool = testPool(db.url);
  ops = testOperations(pool);
  callers = await startTestCallers();
  topic = uniqueName('relay-leader');
  await createTopics([{ name: topic, partitions: 3 }], (process.env.KAFKA_BROKERS ?? '').split(','));
  replicas.push(...(await Promise.all(['1', '2'].map(startReplica))));
}, 200_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.process.stop()));
  await pool?.end();
  await callers?.close();
  await db?.drop();
});

describe('outbox relay leadership across two bank processes', () => {
  it('has one leader, replaces it within 5 s of a kill -9 while transfers commit, and keeps per-account order on Kafka', async () => {
    const holder = await waitFor(lockHolder, { timeoutMs: 20_000, what: 'one replica to take the relay lock' });
    const leader = replicas.find((r) => holder === `bank-service/${r.id}`)!;
    const follower = replicas.find((r) => r !== leader)!;
    expect(leader).toBeDefined();
    await waitFor(async () => (await leaderGauge(leader)) === 1, { what: 'the leader gauge' });
    expect(await leaderGauge(follower)).toBe(0);
    expect(await relayDetail(leader)).toBe('leader');
    expect(await relayDetail(follower)).toBe('follower');

    for (let i = 0; i < 60; i += 1) await transferNext();
    // The leader is publishing when it dies; transfers keep committing meanwhile.
    let writing = true;
    const writer = (async () => {
      while (writing) await transferNext();
    })();
    await waitFor(async () => (await outboxRowsUpTo(2n ** 62n)) < 20, { timeoutMs: 10_000, what: 'the leader to publish' });
    await leader.process.kill();
    const killedAtMs = Date.now();
    await transferNext();
    const { rows } = await pool.query<{ id: bigint }>('SELECT max(id) AS id FROM bank.outbox');
    const markerId = rows[0]!.id;
    await waitFor(async () => (await outboxRowsUpTo(markerId)) === 0, { timeoutMs: TAKEOVER_MS_MAX, intervalMs: 50, what: 'the survivor to publish' });
    const takeoverMs = Date.now() - killedAtMs;
    writing = false;
    await writer;
    expect(takeoverMs).toBeLessThan(TAKEOVER_MS_MAX);
    expect(await lockHolder()).toBe(`bank-service/${follower.id}`);
    expect(await leaderGauge(follower)).toBe(1);

    await waitFor(async () => (await outboxRowsUpTo(2n ** 62n)) === 0, { timeoutMs: 20_000, what: 'the outbox to drain' });
    await checkTopic(sequence);
  }, 180_000);

  it('takes the lock from a frozen leader (SIGSTOP) after its idle session timeout; the leader steps down when it wakes', async () => {
    replicas.push(await startReplica('3'));
    const holder = await waitFor(lockHolder, { timeoutMs: 20_000, what: 'a relay leader' });
    const frozen = replicas.find((r) => holder === `bank-service/${r.id}`)!;
    const other = replicas.find((r) => r !== frozen && r.process.child.exitCode === null && r.process.child.signalCode === null)!;
    frozen.process.child.kill('SIGSTOP');
    try {
      const frozenAtMs = Date.now();
      await transferNext();
      const { rows } = await pool.query<{ id: bigint }>('SELECT max(id) AS id FROM bank.outbox');
      await waitFor(async () => (await outboxRowsUpTo(rows[0]!.id)) === 0, {
        timeoutMs: LEADER_IDLE_TIMEOUT_MS + TAKEOVER_MS_MAX,
        intervalMs: 100,
        what: 'the other replica to publish after the frozen session ended',
      });
      expect(Date.now() - frozenAtMs).toBeGreaterThanOrEqual(LEADER_IDLE_TIMEOUT_MS - 2_000);
      expect(await lockHolder()).toBe(`bank-service/${other.id}`);
    } finally {
      frozen.process.child.kill('SIGCONT');
    }
    await waitFor(async () => (await leaderGauge(frozen)) === 0, { timeoutMs: 10_000, what: 'the woken leader to step down' });
    expect(await lockHolder()).toBe(`bank-service/${other.id}`);
    await transferNext();
    await waitFor(async () => (await outboxRowsUpTo(2n ** 62n)) === 0, { timeoutMs: 20_000, what: 'the outbox to drain' });
    await checkTopic(sequence);
  }, 180_000);
});

/** Every transfer's two events arrived; per account, first copies are in commit order (duplicates allowed, consumers dedupe). */
async function checkTopic(transfers: number): Promise<void> {
  const records = await readAllRecords(topic);
  records.sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
  const seen = new Set<string>();
  const amountsByAccount = new Map<string, bigint[]>();
  for (const record of records) {
    const event = JSON.parse(record.value.toString()) as { eventId: string; accountId: string; amount: string };
    if (seen.has(event.eventId)) continue;
    seen.add(event.eventId);
    expect(record.key).toBe(event.accountId);
    amountsByAccount.set(event.accountId, [...(amountsByAccount.get(event.accountId) ?? []), parseAmountMinor(event.amount)]);
  }
  expect(seen.size).toBe(transfers * 2);
  for (const account of [ALICE, BOB]) {
    const amounts = amountsByAccount.get(account)!;
    expect(amounts).toHaveLength(transfers);
    expect(amounts).toEqual(Array.from({ length: transfers }, (_, i) => BigInt(i + 1)));
  }
}
