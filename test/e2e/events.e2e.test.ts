// End to end for the event flow, over REST only, each call as the account's
// owner: transfer -> outbox -> Kafka -> analytics-service -> ClickHouse
// (embedded chDB) -> GET /operations.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSchemaChecker, freePort, readTopic, waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureKafka } from '../../scripts/lib/kafka.mjs';
import { ACCOUNT_A, ACCOUNT_B, ALICE, BOB, http, startSystem, type Credentials, type RunningSystem } from './harness.js';

interface Operation {
  id: string;
  type: string;
  amount: string;
  transferId?: string;
  counterpartyAccountId?: string;
  initiatedBy?: string;
}

/** The owner of a seed account (alice owns A, bob owns B). */
const ownerOf = (account: string): Credentials => (account === ACCOUNT_B ? BOB : ALICE);

/** A call as `user` (default: the owner of the account in the path, else alice). */
async function as(system: RunningSystem, user: Credentials, method: string, path: string, options: Parameters<typeof http>[3] = {}) {
  return http(system.baseUrl, method, path, { ...options, headers: { ...(await system.as(user)), ...options.headers } });
}

/** Every operation of an account, as its owner, following nextCursor to the end. */
async function allOperations(system: RunningSystem, account: string): Promise<Operation[]> {
  const items: Operation[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1_000; page += 1) {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const res = await as(system, ownerOf(account), 'GET', `/accounts/${account}/operations?limit=100${query}`);
    if (res.status !== 200) throw new Error(`operations answered ${res.status}: ${JSON.stringify(res.body)}`);
    items.push(...(res.body.items as Operation[]));
    cursor = res.body.nextCursor as string | null;
    if (!cursor) return items;
  }
  throw new Error('more than 1000 pages');
}

describe('operation history over REST', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem({ analytics: true });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('shows a REST transfer in both accounts\' history, via schema-valid Kafka events', async () => {
    const res = await as(system, ALICE, 'POST', `/accounts/${ACCOUNT_A}/transfers`, {
      body: { recipientAccountId: ACCOUNT_B, amount: '12.34', description: 'books' },
      headers: { 'Idempotency-Key': randomUUID() },
    });
    expect(res.status).toBe(201);
    const transferId = res.body.id as string;

    const outgoing = await waitFor(
      async () => (await allOperations(system, ACCOUNT_A)).find((op) => op.transferId === transferId),
      { what: 'transfer_out in the sender history', timeoutMs: 30_000, intervalMs: 200 },
    );
    const incoming = await waitFor(
      async () => (await allOperations(system, ACCOUNT_B)).find((op) => op.transferId === transferId),
      { what: 'transfer_in in the recipient history', timeoutMs: 30_000, intervalMs: 200 },
    );
    // Who moved the money shows on both sides (the audit trail).
    expect(outgoing).toMatchObject({ type: 'transfer_out', amount: '12.34', counterpartyAccountId: ACCOUNT_B, initiatedBy: ALICE.userId });
    expect(incoming).toMatchObject({ type: 'transfer_in', amount: '12.34', counterpartyAccountId: ACCOUNT_A, initiatedBy: ALICE.userId });

    const records = await readTopic(system.topic, 2, 20_000, system.kafkaBrokers.split(','));
    const check = createSchemaChecker();
    for (const record of records) {
      const event = JSON.parse(record.value.toString()) as { accountId: string; transferId: string; initiatedBy?: string };
      expect(check(event)).toEqual([]);
      expect(record.key).toBe(event.accountId);
      expect(event.transferId).toBe(transferId);
      expect(event.initiatedBy).toBe(ALICE.userId);
    }
  });

  it('filters by type and rejects a bad cursor, limit or filter with 400 and an unknown account with 404', async () => {
    const outOnly = await as(system, ALICE, 'GET', `/accounts/${ACCOUNT_A}/operations?type=transfer_out&limit=5`);
    expect(outOnly.status).toBe(200);
    expect((outOnly.body.items as Operation[]).every((op) => op.type === 'transfer_out')).toBe(true);
    for (const query of ['cursor=not*base64url', 'limit=0', 'limit=101', 'type=chargeback', 'from=yesterday']) {
      const res = await as(system, ALICE, 'GET', `/accounts/${ACCOUNT_A}/operations?${query}`);
      expect(res.status, query).toBe(400);
    }
    // Schema-valid, but not a cursor analytics issued / not a forward range: 422.
    for (const query of ['cursor=garbage', 'from=2026-01-01T00:00:00Z&to=2026-01-01T00:00:00Z']) {
      const res = await as(system, ALICE, 'GET', `/accounts/${ACCOUNT_A}/operations?${query}`);
      expect(res.status, query).toBe(422);
    }
    const unknown = await as(system, ALICE, 'GET', `/accounts/${randomUUID()}/operations`);
    expect(unknown.status).toBe(404);
  });

  it('answers 503 with Retry-After while analytics is down, and transfers and balances keep working', async () => {
    await system.processes.analytics!.stop();
    try {
      const res = await as(system, ALICE, 'GET', `/accounts/${ACCOUNT_A}/operations`);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBeTruthy();
      const transfer = await as(system, BOB, 'POST', `/accounts/${ACCOUNT_B}/transfers`, {
        body: { recipientAccountId: ACCOUNT_A, amount: '0.01' },
        headers: { 'Idempotency-Key': randomUUID() },
      });
      expect(transfer.status).toBe(201);
      expect((await as(system, ALICE, 'GET', `/accounts/${ACCOUNT_A}/balance`)).status).toBe(200);
    } finally {
      await system.restart('analytics');
    }
  });
});

describe('a burst of 1,000 transfers while Kafka stops and analytics is killed', () => {
  let system: RunningSystem;
  let kafkaDir: string;
  let kafka: { brokers: string; stop: () => Promise<void> };
  let kafkaPorts: { port: number; controllerPort: number };

  const startBroker = () => ensureKafka({ dataDir: kafkaDir, ...kafkaPorts, useEnv: false });

  beforeAll(async () => {
    // A private broker, because this test stops it.
    kafkaDir = mkdtempSync(join(tmpdir(), 'wallet-e2e-kafka-'));
    kafkaPorts = { port: await freePort(), controllerPort: await freePort() };
    kafka = await startBroker();
    system = await startSystem({ analytics: true, kafkaBrokers: kafka.brokers });
    // A JVM and the services starting on a busy shared 2-core machine can take minutes.
  }, 420_000);
  afterAll(async () => {
    await system?.stop();
    await kafka?.stop();
    rmSync(kafkaDir, { recursive: true, force: true });
  });

  it('loses nothing and duplicates nothing', async () => {
    const total = 1_000;
    const concurrency = 16;
    const transferIds: string[] = [];
    let next = 0;
    let kafkaStopped: Promise<void> | undefined;
    let analyticsKilled = false;
    const worker = async () => {
      while (next < total) {
        const i = next++;
        if (i === 250) kafkaStopped = kafka.stop();
        if (i === 500 && !analyticsKilled) {
          analyticsKilled = true;
          await system.processes.analytics!.kill();
        }
        const [from, to] = i % 2 === 0 ? [ACCOUNT_A, ACCOUNT_B] : [ACCOUNT_B, ACCOUNT_A];
        const key = `burst-${i}`;
        // Each transfer is retried with its key until it is acknowledged: a
        // retry is safe and never executes twice.
        const res = await waitFor(
          async () => {
            const r = await as(system, ownerOf(from), 'POST', `/accounts/${from}/transfers`, {
              body: { recipientAccountId: to, amount: '0.01' },
              headers: { 'Idempotency-Key': key },
            });
            return r.status === 201 ? r : undefined;
          },
          { what: `transfer ${i}`, timeoutMs: 30_000, intervalMs: 100 },
        );
        transferIds.push(res.body.id as string);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    expect(new Set(transferIds).size).toBe(total);

    await kafkaStopped;
    kafka = await startBroker();
    await system.restart('analytics');

    const expectOnce = async (account: string, type: string) => {
      const ops = await waitFor(
        async () => {
          const all = await allOperations(system, account);
          const burst = all.filter((op) => op.type === type && transferIds.includes(op.transferId ?? ''));
          return burst.length >= total / 2 ? burst : undefined;
        },
        { what: `${type} events of ${account}`, timeoutMs: 120_000, intervalMs: 1_000 },
      );
      expect(ops).toHaveLength(total / 2);
      expect(new Set(ops.map((op) => op.transferId)).size).toBe(total / 2);
      expect(new Set(ops.map((op) => op.id)).size).toBe(total / 2);
    };
    await expectOnce(ACCOUNT_A, 'transfer_out');
    await expectOnce(ACCOUNT_A, 'transfer_in');
    await expectOnce(ACCOUNT_B, 'transfer_out');
    await expectOnce(ACCOUNT_B, 'transfer_in');
  }, 300_000);
});
