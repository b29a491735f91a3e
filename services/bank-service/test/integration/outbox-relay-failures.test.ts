// The outbox relay under a slow broker and under events Kafka refuses for good,
// against real PostgreSQL (and a real broker for the refusal).
import { Admin, Consumer } from '@platformatic/kafka';
import { readTopic, uniqueName, waitFor, type TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaOutboxPublisher } from '../../src/outbox/kafka-publisher.js';
import { OutboxRelay, type OutboxMessage, type OutboxPublisher } from '../../src/outbox/relay.js';
import { ALICE, BOB, createMigratedDatabase, silentLogger, testOperations, testPool } from '../support/helpers.js';
import { ADMIN } from '../support/callers.js';

function brokerList(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value) throw new Error('KAFKA_BROKERS is not set: run tests through `npm test`');
  return value.split(',');
}

/** A broker that acknowledges every batch, but only after delayMs. */
class SlowPublisher implements OutboxPublisher {
  batches: OutboxMessage[][] = [];
  constructor(private readonly delayMs: number) {}
  async publish(messages: OutboxMessage[]): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    this.batches.push(messages);
  }
  async close(): Promise<void> {}
}

async function outboxCount(pool: pg.Pool, table = 'bank.outbox'): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

async function transfers(pool: pg.Pool, prefix: string, count: number): Promise<void> {
  const ops = testOperations(pool);
  for (let i = 0; i < count; i += 1) {
    await ops.transferMoney({ senderAccountId: ALICE, recipientAccountId: BOB, amount: { amountMinor: 1n, currencyCode: 'USD' }, idempotencyKey: `${prefix}-${i}`, description: `${prefix} ${i}` }, ADMIN);
  }
}

async function createTopic(name: string, configs: { name: string; value: string }[]): Promise<void> {
  const admin = new Admin({ clientId: 'relay-test-admin', bootstrapBrokers: brokerList() });
  try {
    await admin.createTopics({ topics: [name], partitions: 2, replicas: 1, configs });
    await waitFor(
      async () => (await admin.metadata({ topics: [name], forceUpdate: true })).topics.get(name)?.partitions.every((p) => p.leader >= 0) ?? false,
      { what: 'topic leaders', timeoutMs: 20_000 },
    );
  } finally {
    await admin.close();
  }
}

/** Records in the topic (sum of the partitions' end offsets). */
async function topicSize(topic: string): Promise<number> {
  const consumer = new Consumer({ clientId: 'relay-test-offsets', groupId: uniqueName('offsets'), bootstrapBrokers: brokerList() });
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    return ends.reduce((sum, end) => sum + Number(end), 0);
  } finally {
    await consumer.close(true);
  }
}

describe('outbox relay failures', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createMigratedDatabase('relay_failures');
    // A short idle-in-transaction timeout: shorter than one (slow) publish below.
    pool = testPool(db.url, { idleInTransactionTimeoutMs: 1_000 });
  });
  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  it('publishes each event once and drains the outbox when the broker is slower than the idle-in-transaction timeout', async () => {
    await transfers(pool, 'slow', 6);
    const publisher = new SlowPublisher(2_000);
    const relay = new OutboxRelay({ pool, publisher, logger: silentLogger, batchSize: 4, pollIntervalMs: 50, publishTimeoutMs: 10_000, backoffBaseMs: 20, backoffMaxMs: 200 });
    relay.start();
    try {
      await waitFor(async () => (await outboxCount(pool)) === 0, { what: 'outbox drained through a slow broker', timeoutMs: 30_000 });
    } finally {
      await relay.stop();
    }
    const ids = publisher.batches.flat().map((m) => (JSON.parse(m.value) as { eventId: string }).eventId);
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
  });

  it('quarantines an event Kafka rejects for good (record too large), counts it, and keeps the others flowing in order', async () => {
    const topic = uniqueName('relay-quarantine');
    await createTopic(topic, [{ name: 'max.message.bytes', value: '4096' }]);
    await transfers(pool, 'before', 2);
    // An event bigger than the topic accepts, committed between ordinary ones.
    // It keeps the trace context of the request that wrote it into the quarantine.
    const traceContext = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const big = await pool.query<{ id: string }>(
      `INSERT INTO bank.outbox (account_id, event_type, payload, trace_context)
       VALUES ($1, 'transfer_out', jsonb_build_object('eventId', gen_random_uuid(), 'padding', repeat('x', 20000)), $2) RETURNING id::text AS id`,
      [ALICE, traceContext],
    );
    await transfers(pool, 'after', 2);
    const quarantined: number[] = [];
    const publisher = new KafkaOutboxPublisher({ brokers: brokerList(), topic, clientId: 'relay-quarantine-test', requestTimeoutMs: 5_000, logger: silentLogger });
    const relay = new OutboxRelay({
      pool,
      publisher,
      logger: silentLogger,
      batchSize: 50,
      pollIntervalMs: 50,
      publishTimeoutMs: 20_000,
      backoffBaseMs: 20,
      backoffMaxMs: 200,
      metrics: { published: () => {}, failed: () => {}, oldestAgeMs: () => {}, quarantined: (count) => quarantined.push(count) },
    });
    relay.start();
    try {
      await waitFor(async () => (await outboxCount(pool)) === 0, { what: 'outbox drained around the rejected event', timeoutMs: 30_000 });
    } finally {
      await relay.stop();
      await publisher.close();
    }
    const { rows } = await pool.query<{ id: string; reason: string; trace_context: string | null }>('SELECT id::text AS id, reason, trace_context FROM bank.outbox_quarantine');
    expect(rows).toEqual([{ id: big.rows[0]!.id, reason: expect.stringMatching(/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/) as string, trace_context: traceContext }]);
    expect(quarantined.reduce((a, b) => a + b, 0)).toBe(1);

    const records = await readTopic(topic, await topicSize(topic));
    const descriptions = records
      .map((r) => JSON.parse(r.value.toString()) as { accountId: string; eventType: string; description: string })
      .filter((e) => e.accountId === ALICE && e.eventType === 'transfer_out')
      .map((e) => e.description);
    // Per account, first occurrences stay in commit order (a retried batch may repeat some).
    expect([...new Set(descriptions)]).toEqual(['before 0', 'before 1', 'after 0', 'after 1']);
  });
});
