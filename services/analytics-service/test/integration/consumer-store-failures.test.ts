// The consumer when the store refuses: an event the table rejects for good goes
// to the dead-letter topic with the reason; a transient failure is retried while
// the other partitions keep moving. Real Kafka, real chDB; the transient failure
// is injected around the real store.
import { randomUUID } from 'node:crypto';
import { Producer, stringSerializer } from '@platformatic/kafka';
import { createLogger } from '@wallet/platform';
import { createTopics, readTopic, uniqueName, waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationsConsumer, type OperationsSink } from '../../src/consumer/operations-consumer.js';
import { createEventValidator } from '../../src/consumer/validator.js';
import type { OperationRow } from '../../src/domain/operation.js';
import { createAnalyticsMetrics } from '../../src/metrics.js';
import { openClickHouse } from '../../src/store/client.js';
import { OperationsStore } from '../../src/store/operations-store.js';
import { at, transferEvent } from '../support/events.js';
import { removeChdbPath, tempChdbPath } from '../support/service.js';
import { Registry } from 'prom-client';

const logger = createLogger('consumer-store-failures-test', process.env.TEST_SERVICE_LOG_LEVEL ?? 'silent');
const chdbPath = tempChdbPath('store-failures');
const database = 'store_failures';
let store: OperationsStore;
let command: (sql: string) => Promise<void>;
const producer = new Producer({
  clientId: 'store-failures-producer',
  bootstrapBrokers: (process.env.KAFKA_BROKERS ?? '').split(','),
  serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
});

/** Sends events to one explicit partition, in order. */
async function sendTo(topic: string, partition: number, events: { accountId: string; eventType: string }[]): Promise<void> {
  await producer.send({
    messages: events.map((e) => ({ topic, partition, key: e.accountId, value: Buffer.from(JSON.stringify(e)), headers: { eventType: e.eventType } })),
  });
}

function startConsumer(topic: string, sink: OperationsSink, overrides: { storeAttemptsMax?: number } = {}): OperationsConsumer {
  const consumer = new OperationsConsumer(
    {
      brokers: (process.env.KAFKA_BROKERS ?? '').split(','),
      clientId: 'store-failures',
      groupId: uniqueName('store-failures'),
      groupInstanceId: '',
      topic,
      dlqTopic: `${topic}.dlq`,
      batchSizeMax: 50,
      batchWaitMsMax: 50,
      sessionTimeoutMs: 6_000,
      heartbeatIntervalMs: 500,
      fetchWaitMsMax: 100,
      requestTimeoutMs: 10_000,
      retryDelayMsMax: 200,
      storeAttemptsMax: overrides.storeAttemptsMax ?? 1_000,
      lagIntervalMs: 60_000,
    },
    { sink, validator: createEventValidator(), metrics: createAnalyticsMetrics(new Registry()), logger },
  );
  consumer.start();
  return consumer;
}

async function storedIds(accountId: string): Promise<string[]> {
  const page = await store.listOperations({ filter: { accountId, types: [] }, pageSize: 100 } as Parameters<OperationsStore['listOperations']>[0]);
  return page.operations.map((o) => o.eventId).sort();
}

beforeAll(async () => {
  const clickhouse = await openClickHouse({ chdbPath, requestTimeoutMs: 10_000, queryMemoryMibMax: 256, cacheMibMax: 64, engineMemoryMibMax: 768 });
  store = new OperationsStore(clickhouse.client, database);
  await store.ensureSchema();
  command = async (sql) => {
    await clickhouse.client.command({ query: sql });
  };
});

afterAll(async () => {
  await producer.close();
  await store.close();
  removeChdbPath(chdbPath);
});

describe('analytics consumer and store failures', { timeout: 120_000 }, () => {
  it('parks an event the store rejects for good in the dead-letter topic with the reason and stores the rest', async () => {
    const topic = uniqueName('store-reject');
    await createTopics([{ name: topic, partitions: 1 }, { name: `${topic}.dlq`, partitions: 1 }]);
    // The table refuses this one row for a reason no retry can change (as a stricter server schema would).
    await command(`ALTER TABLE ${database}.operations ADD CONSTRAINT no_poison CHECK description != 'poison'`);
    const account = randomUUID();
    const good1 = transferEvent({ accountId: account, occurredAt: at('2025-06-01T00:00:00Z', 0) });
    const poison = { ...transferEvent({ accountId: account, occurredAt: at('2025-06-01T00:00:00Z', 1) }), description: 'poison' };
    const good2 = transferEvent({ accountId: account, occurredAt: at('2025-06-01T00:00:00Z', 2) });
    await sendTo(topic, 0, [good1, poison, good2]);
    const consumer = startConsumer(topic, store);
    try {
      await waitFor(async () => (await storedIds(account)).length === 2, { what: 'the two good events stored', timeoutMs: 60_000 });
      expect(await storedIds(account)).toEqual([good1.eventId, good2.eventId].sort());
      const [parked] = await readTopic(`${topic}.dlq`, 1);
      expect(JSON.parse(parked!.value.toString())).toMatchObject({ eventId: poison.eventId });
      expect(parked!.headers.get('dlqReason')).toBe('store_rejected');
      expect(parked!.headers.get('dlqDetail')).toMatch(/no_poison|VIOLATED_CONSTRAINT|constraint/i);
    } finally {
      await consumer.stop();
      await command(`ALTER TABLE ${database}.operations DROP CONSTRAINT no_poison`);
    }
  });

  it('retries a transient store failure with backoff while the other partitions keep moving, then stores it', async () => {
    const topic = uniqueName('store-transient');
    await createTopics([{ name: topic, partitions: 2 }, { name: `${topic}.dlq`, partitions: 1 }]);
    const stuck = randomUUID();
    const moving = randomUUID();
    let failing = true;
    let failures = 0;
    const flaky: OperationsSink = {
      existingEventIds: (rows) => store.existingEventIds(rows),
      insert: async (rows: readonly OperationRow[]) => {
        if (failing && rows.some((r) => r.accountId === stuck)) {
          failures += 1;
          throw Object.assign(new Error('Too many simultaneous queries. Maximum: 100'), { code: '202' });
        }
        await store.insert(rows);
      },
    };
    const stuckEvent = transferEvent({ accountId: stuck, occurredAt: at('2025-06-02T00:00:00Z', 0) });
    await sendTo(topic, 0, [stuckEvent]);
    const consumer = startConsumer(topic, flaky);
    try {
      await waitFor(() => failures >= 2, { what: 'the stuck partition retried', timeoutMs: 60_000 });
      // Partition 0 is still failing; partition 1 must not wait for it.
      const movingEvents = [0, 1, 2].map((i) => transferEvent({ accountId: moving, occurredAt: at('2025-06-02T00:00:00Z', 10 + i) }));
      await sendTo(topic, 1, movingEvents);
      await waitFor(async () => (await storedIds(moving)).length === 3, { what: 'the other partition stored while one retries', timeoutMs: 60_000 });
      expect(await storedIds(stuck)).toEqual([]);
      failing = false;
      await waitFor(async () => (await storedIds(stuck)).length === 1, { what: 'the retried event stored once the store recovers', timeoutMs: 60_000 });
    } finally {
      await consumer.stop();
    }
  });
});
