// Degradation is explicit (issue #13): with the analytics-service, ClickHouse or
// Kafka down, transfers and balances keep working; history answers a quick 503
// problem+json with Retry-After while it cannot be read (never a hang), and
// after recovery it catches up exactly: every transfer once on each side.
// Private Kafka broker and ClickHouse server (chDB over HTTP, as replicas use
// it), because this file stops and restarts both.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouseServer, type ClickHouseServer } from '../../scripts/lib/clickhouse-server.mjs';
import { ensureKafka } from '../../scripts/lib/kafka.mjs';
import { ACCOUNT_A, ACCOUNT_B, ALICE, BOB, http, startSystem, type Credentials, type RunningSystem } from './harness.js';

interface Operation {
  id: string;
  type: string;
  transferId?: string;
}

/** Longest a degraded answer may take: a hang fails the test instead of passing late (http() aborts at 20 s too). */
const DEGRADED_ANSWER_MS_MAX = 15_000;
const CATCH_UP_MS_MAX = 180_000;

const ownerOf = (account: string): Credentials => (account === ACCOUNT_B ? BOB : ALICE);

describe('degradation: analytics, ClickHouse or Kafka down', () => {
  let system: RunningSystem;
  let work: string;
  let kafka: { brokers: string; stop: () => Promise<void> };
  let kafkaPorts: { port: number; controllerPort: number };
  let clickhouse: ClickHouseServer;
  /** Every transfer made, by id: the history must end with each exactly once on each side. */
  const transferIds: string[] = [];
  const balancesMinor = new Map<string, bigint>();

  const startBroker = () => ensureKafka({ dataDir: join(work, 'kafka'), ...kafkaPorts, useEnv: false });
  const startStore = (port = 0) => startClickHouseServer({ dataDir: join(work, 'clickhouse'), port });

  const as = async (user: Credentials, method: string, path: string, options: Parameters<typeof http>[3] = {}) =>
    http(system.baseUrl, method, path, { ...options, headers: { ...(await system.as(user)), ...options.headers } });

  const balanceOf = async (account: string): Promise<bigint> => {
    const res = await as(ownerOf(account), 'GET', `/accounts/${account}/balance`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return toMinor(res.body.balance as string);
  };

  /** One transfer that must succeed at once (no retry needed), and the balances that must follow exactly. */
  const transfer = async (from: string, to: string, amount: string) => {
    const res = await as(ownerOf(from), 'POST', `/accounts/${from}/transfers`, {
      body: { recipientAccountId: to, amount },
      headers: { 'Idempotency-Key': randomUUID() },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    transferIds.push(res.body.id as string);
    balancesMinor.set(from, balancesMinor.get(from)! - toMinor(amount));
    balancesMinor.set(to, balancesMinor.get(to)! + toMinor(amount));
  };

  /** Transfers both ways and exact balances while something is down. */
  const moneyKeepsWorking = async () => {
    await transfer(ACCOUNT_A, ACCOUNT_B, '1.25');
    await transfer(ACCOUNT_B, ACCOUNT_A, '0.50');
    await transfer(ACCOUNT_A, ACCOUNT_B, '0.01');
    for (const account of [ACCOUNT_A, ACCOUNT_B]) expect(await balanceOf(account)).toBe(balancesMinor.get(account));
  };

  /** History refused quickly and explicitly: 503 problem+json with Retry-After. */
  const historyUnavailable = async () => {
    const startedAtMs = Date.now();
    const res = await as(ALICE, 'GET', `/accounts/${ACCOUNT_A}/operations`);
    const elapsedMs = Date.now() - startedAtMs;
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.contentType).toMatch(/^application\/problem\+json/);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(res.body.status).toBe(503);
    // A bound on waiting (not a speed test): the answer came, it did not hang.
    expect(elapsedMs).toBeLessThan(DEGRADED_ANSWER_MS_MAX);
  };

  /** Every transfer so far exactly once in each side's history (outgoing on the sender, incoming on the recipient). */
  const historyCatchesUp = async () => {
    for (const account of [ACCOUNT_A, ACCOUNT_B]) {
      await waitFor(
        async () => {
          const ops = (await allOperations(account)).filter((op) => op.transferId && transferIds.includes(op.transferId));
          return ops.length >= transferIds.length ? ops : undefined;
        },
        { what: `history of ${account} to hold all ${transferIds.length} transfers`, timeoutMs: CATCH_UP_MS_MAX, intervalMs: 500 },
      );
      const ops = (await allOperations(account)).filter((op) => op.transferId && transferIds.includes(op.transferId));
      expect(ops).toHaveLength(transferIds.length);
      expect(new Set(ops.map((op) => op.id)).size).toBe(transferIds.length);
      expect(new Set(ops.map((op) => op.transferId)).size).toBe(transferIds.length);
    }
  };

  const allOperations = async (account: string): Promise<Operation[]> => {
    const items: Operation[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 100; page += 1) {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const res = await as(ownerOf(account), 'GET', `/accounts/${account}/operations?limit=100${query}`);
      if (res.status !== 200) throw new Error(`operations answered ${res.status}: ${JSON.stringify(res.body)}`);
      items.push(...(res.body.items as Operation[]));
      cursor = res.body.nextCursor as string | null;
      if (!cursor) return items;
    }
    throw new Error('more than 100 pages');
  };

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'wallet-e2e-degradation-'));
    kafkaPorts = { port: await freePort(), controllerPort: await freePort() };
    kafka = await startBroker();
    clickhouse = await startStore();
    system = await startSystem({ analytics: true, kafkaBrokers: kafka.brokers, env: { analytics: { CLICKHOUSE_URL: clickhouse.url } } });
    for (const account of [ACCOUNT_A, ACCOUNT_B]) balancesMinor.set(account, await balanceOf(account));
    // A JVM, a ClickHouse engine and the services starting on a busy shared 2-core machine can take minutes.
  }, 420_000);

  afterAll(async () => {
    await system?.stop();
    await clickhouse?.stop();
    await kafka?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('works end to end before anything fails', async () => {
    await moneyKeepsWorking();
    await historyCatchesUp();
  }, 240_000);

  it('with the analytics-service down: transfers and balances work, history is a quick 503, then catches up', async () => {
    await system.processes.analytics!.stop();
    try {
      await moneyKeepsWorking();
      await historyUnavailable();
    } finally {
      await system.restart('analytics');
    }
    await historyCatchesUp();
  }, 300_000);

  it('with ClickHouse down: transfers and balances work, history is a quick 503, then catches up on the same data', async () => {
    const port = clickhouse.port;
    await clickhouse.stop();
    try {
      await moneyKeepsWorking();
      await historyUnavailable();
    } finally {
      clickhouse = await startStore(port);
    }
    await historyCatchesUp();
  }, 300_000);

  it('with Kafka down: transfers and balances work, history still answers (stale), then catches up', async () => {
    await kafka.stop();
    try {
      await moneyKeepsWorking();
      const res = await as(ALICE, 'GET', `/accounts/${ACCOUNT_A}/operations?limit=5`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    } finally {
      kafka = await startBroker();
    }
    await historyCatchesUp();
  }, 420_000);
});

/** "12.34" -> 1234n (two decimals at most, as the API guarantees). */
function toMinor(amount: string): bigint {
  const negative = amount.startsWith('-');
  const [whole = '0', fraction = ''] = amount.replace('-', '').split('.');
  const minor = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2));
  return negative ? -minor : minor;
}
