// The outbox relay against real PostgreSQL and a real Kafka broker.
import { formatAmountMinor } from '@wallet/platform';
import { createSchemaChecker, createTopics, readTopic, uniqueName, waitFor, type TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaOutboxPublisher } from '../../src/outbox/kafka-publisher.js';
import { OutboxRelay, type OutboxMessage, type OutboxPublisher } from '../../src/outbox/relay.js';
import { ALICE, BOB, createMigratedDatabase, silentLogger, testOperations, testPool } from '../support/helpers.js';
import { ADMIN, DEPOSITOR } from '../support/callers.js';

function brokerList(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value) throw new Error('KAFKA_BROKERS is not set: run tests through `npm test`');
  return value.split(',');
}

/** Records every batch; can be switched to fail like an unreachable broker. */
class RecordingPublisher implements OutboxPublisher {
  batches: OutboxMessage[][] = [];
  down = false;
  async publish(messages: OutboxMessage[]): Promise<void> {
    if (this.down) throw new Error('broker unreachable');
    this.batches.push(messages);
  }
  async close(): Promise<void> {}
}

function relayOptions(pool: pg.Pool, publisher: OutboxPublisher, batchSize = 100) {
  return { pool, publisher, logger: silentLogger, batchSize, pollIntervalMs: 50, publishTimeoutMs: 5_000, backoffBaseMs: 20, backoffMaxMs: 200 };
}

async function outboxCount(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM bank.outbox');
  return Number(rows[0]!.n);
}

describe('outbox relay', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createMigratedDatabase('relay');
    pool = testPool(db.url);
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('publishes in bounded batches, in commit order per account, and deletes only what was acknowledged', async () => {
    const ops = testOperations(pool);
    for (let i = 0; i < 25; i += 1) {
      await ops.transferMoney({
        senderAccountId: i % 2 === 0 ? ALICE : BOB,
        recipientAccountId: i % 2 === 0 ? BOB : ALICE,
        amount: { amountMinor: BigInt(100 + i), currencyCode: 'USD' },
        idempotencyKey: `batch-${i}`,
        description: `t${i}`,
      }, ADMIN);
    }
    expect(await outboxCount(pool)).toBe(50);
    const publisher = new RecordingPublisher();
    const relay = new OutboxRelay(relayOptions(pool, publisher, 20));
    expect(await relay.runOnce()).toBe(20);
    expect(await relay.runOnce()).toBe(20);
    expect(await relay.runOnce()).toBe(10);
    expect(await relay.runOnce()).toBe(0);
    expect(publisher.batches.map((b) => b.length)).toEqual([20, 20, 10]);
    expect(await outboxCount(pool)).toBe(0);

    // Per account, events come out in the order the transfers committed.
    const all = publisher.batches.flat();
    const amountsFor = (account: string, type: string) =>
      all
        .filter((m) => m.key === account)
        .map((m) => JSON.parse(m.value) as { eventType: string; amount: string })
        .filter((e) => e.eventType === type)
        .map((e) => e.amount);
    expect(amountsFor(ALICE, 'transfer_out')).toEqual(Array.from({ length: 13 }, (_, k) => formatAmountMinor(BigInt(100 + 2 * k))));
    expect(amountsFor(BOB, 'transfer_out')).toEqual(Array.from({ length: 12 }, (_, k) => formatAmountMinor(BigInt(101 + 2 * k))));
    for (const message of all) expect(message.headers.eventType).toBe((JSON.parse(message.value) as { eventType: string }).eventType);
  });

  it('reports the pending events at each cycle (bank_outbox_pending_events): the backlog while full batches drain, then what is left, then 0', async () => {
    const ops = testOperations(pool);
    for (let i = 0; i < 25; i += 1) {
      await ops.transferMoney({ senderAccountId: ALICE, recipientAccountId: BOB, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: `pending-${i}`, description: '' }, ADMIN);
    }
    const pending: number[] = [];
    const metrics = { published: () => {}, failed: () => {}, oldestAgeMs: () => {}, pending: (count: number) => pending.push(count) };
    const relay = new OutboxRelay({ ...relayOptions(pool, new RecordingPublisher(), 20), metrics });
    for (let cycle = 0; cycle < 4; cycle += 1) await relay.runOnce();
    // 50 rows in batches of 20: a full batch counts the whole backlog (at most once a second), a partial one is the backlog.
    expect(pending[0]).toBe(50);
    expect(pending.slice(-2)).toEqual([10, 0]);
    expect(pending.slice(1, -2).every((count) => count === 30)).toBe(true);
  });

  it('keeps events while the broker is down and delivers each once when it returns', async () => {
    const ops = testOperations(pool);
    const publisher = new RecordingPublisher();
    publisher.down = true;
    const relay = new OutboxRelay(relayOptions(pool, publisher, 7));
    relay.start();
    try {
      for (let i = 0; i < 10; i += 1) {
        // Transfers keep succeeding while the broker is down.
        await ops.transferMoney({ senderAccountId: ALICE, recipientAccountId: BOB, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: `down-${i}`, description: '' }, ADMIN);
        relay.wake();
      }
      await waitFor(() => relay.degraded, { what: 'relay to notice the outage' });
      expect(await outboxCount(pool)).toBe(20);
      expect(publisher.batches).toHaveLength(0);
      publisher.down = false;
      await waitFor(async () => (await outboxCount(pool)) === 0, { what: 'outbox drained', timeoutMs: 10_000 });
    } finally {
      await relay.stop();
    }
    const ids = publisher.batches.flat().map((m) => (JSON.parse(m.value) as { eventId: string }).eventId);
    expect(ids).toHaveLength(20);
    expect(new Set(ids).size).toBe(20);
  });

  it('lets exactly one of several relays publish a given batch', async () => {
    const ops = testOperations(pool);
    for (let i = 0; i < 30; i += 1) {
      await ops.transferMoney({ senderAccountId: BOB, recipientAccountId: ALICE, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: `replicas-${i}`, description: '' }, ADMIN);
    }
    const publishers = [new RecordingPublisher(), new RecordingPublisher(), new RecordingPublisher()];
    const relays = publishers.map((p) => new OutboxRelay(relayOptions(pool, p, 5)));
    relays.forEach((r) => r.start());
    try {
      await waitFor(async () => (await outboxCount(pool)) === 0, { what: 'outbox drained by replicas', timeoutMs: 10_000 });
    } finally {
      await Promise.all(relays.map((r) => r.stop()));
    }
    const ids = publishers.flatMap((p) => p.batches.flat()).map((m) => (JSON.parse(m.value) as { eventId: string }).eventId);
    expect(ids).toHaveLength(60);
    expect(new Set(ids).size).toBe(60);
  });

  it('publishes schema-valid events to a real Kafka topic keyed by account id', async () => {
    const topic = uniqueName('relay-ops');
    await createTopics([{ name: topic, partitions: 3 }], brokerList());
    const ops = testOperations(pool);
    await ops.transferMoney({ senderAccountId: ALICE, recipientAccountId: BOB, amount: { amountMinor: 1234n, currencyCode: 'USD' }, idempotencyKey: 'kafka-1', description: 'rent' }, ADMIN);
    await ops.depositMoney({ accountId: BOB, amount: { amountMinor: 5000n, currencyCode: 'USD' }, depositReference: 'kafka-dep-1', topUpId: '6f1c2d4e-8a9b-4c3d-9e8f-7a6b5c4d3e2f', card: { cardLast4: '4242', cardBrand: 'visa' }, initiatedBy: DEPOSITOR });
    const publisher = new KafkaOutboxPublisher({ brokers: brokerList(), topic, clientId: 'relay-test', requestTimeoutMs: 5_000, logger: silentLogger });
    const relay = new OutboxRelay(relayOptions(pool, publisher));
    try {
      await waitFor(async () => (await relay.runOnce()) > 0 || (await outboxCount(pool)) === 0, { what: 'relay run' });
      while ((await relay.runOnce()) > 0);
    } finally {
      await publisher.close();
    }
    const records = await readTopic(topic, 3);
    const check = createSchemaChecker();
    const events = records.map((r) => ({ key: r.key, event: JSON.parse(r.value.toString()) as { accountId: string; eventType: string } }));
    for (const { key, event } of events) {
      expect(check(event)).toEqual([]);
      expect(key).toBe(event.accountId);
    }
    expect(events.map((e) => e.event.eventType).sort()).toEqual(['topup', 'transfer_in', 'transfer_out']);
  });
});
