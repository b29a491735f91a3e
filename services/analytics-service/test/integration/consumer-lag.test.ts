// Consumer lag per partition and the freshness metrics, against a real broker
// and real chDB. The hold-before-commit hook stores rows but never commits, so
// the lag of each partition is exactly what was produced to it (less what
// retention removed) while the rows are already in the store.
import { randomUUID } from 'node:crypto';
import { Admin, Producer, stringSerializer } from '@platformatic/kafka';
import { brokers, createTopics, uniqueName, waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { at, topUpEvent } from '../support/events.js';
import { metricValue, removeChdbPath, startInProcess, tempChdbPath } from '../support/service.js';

const topic = uniqueName('lag');
const chdbPath = tempChdbPath('lag');
let app: Awaited<ReturnType<typeof startInProcess>>;
const producer = new Producer({
  clientId: 'consumer-lag-producer',
  bootstrapBrokers: brokers(),
  serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
});

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${app.opsPort}/metrics`)).text();
}

/** Top-ups that occurred a minute ago, to one explicit partition, in order. */
async function sendTo(partition: number, count: number): Promise<void> {
  const occurredAt = at(new Date(Date.now() - 60_000).toISOString(), 0);
  const events = Array.from({ length: count }, () => topUpEvent({ accountId: randomUUID(), amount: '1.00', occurredAt }));
  await producer.send({
    messages: events.map((e) => ({ topic, partition, key: e.accountId, value: Buffer.from(JSON.stringify(e)), headers: { eventType: e.eventType } })),
  });
}

function lagOf(text: string, partition: number): number | undefined {
  if (!text.includes(`analytics_consumer_lag{topic="${topic}",partition="${partition}"`)) return undefined;
  return metricValue(text, 'analytics_consumer_lag', { topic, partition: String(partition) });
}

beforeAll(async () => {
  await createTopics([
    { name: topic, partitions: 3 },
    { name: `${topic}.dlq`, partitions: 1 },
  ]);
  app = await startInProcess({
    ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
    ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    ANALYTICS_KAFKA_GROUP_ID: uniqueName('lag'),
    ANALYTICS_CHDB_PATH: chdbPath,
    WALLET_TEST_HOLD_BEFORE_COMMIT: 'true',
  });
});

afterAll(async () => {
  await producer.close();
  await app?.stop();
  removeChdbPath(chdbPath);
});

describe('consumer lag and freshness', { timeout: 120_000 }, () => {
  it('reports lag per partition as log end minus committed offset, from the log start when nothing is committed (records removed by retention are not lag)', async () => {
    await sendTo(0, 2);
    await sendTo(2, 5);
    // Retention in miniature: partition 2 now starts at offset 3, so only 2 records remain to do.
    const admin = new Admin({ clientId: 'consumer-lag-admin', bootstrapBrokers: brokers() });
    try {
      await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 2, offset: 3n }] }] });
    } finally {
      await admin.close();
    }
    const lags = await waitFor(
      async () => {
        const text = await metrics();
        const values = [0, 1, 2].map((p) => lagOf(text, p));
        return values[0] === 2 && values[1] === 0 && values[2] === 2 ? values : undefined;
      },
      { what: 'lag 2 / 0 / 2 on partitions 0 / 1 / 2', timeoutMs: 60_000 },
    );
    expect(lags).toEqual([2, 0, 2]);
  });

  it('records each stored row\'s delay from occurredAt and the time of the last insert, before any commit', async () => {
    const startedS = Date.now() / 1000;
    await sendTo(1, 4);
    // Partitions 0 and 2 can account for at most 2 + 5 rows: an 8th means partition 1's batch is stored.
    const text = await waitFor(
      async () => {
        const current = await metrics();
        return metricValue(current, 'analytics_events_inserted_total') >= 8 ? current : undefined;
      },
      { what: 'partition 1 rows inserted (never committed)', timeoutMs: 60_000 },
    );
    const inserted = metricValue(text, 'analytics_events_inserted_total');
    expect(metricValue(text, 'analytics_event_delay_seconds_count')).toBe(inserted);
    // Every event occurred a minute before it was sent: none arrived within 30 s, all within 5 min.
    expect(metricValue(text, 'analytics_event_delay_seconds_bucket', { le: '30' })).toBe(0);
    expect(metricValue(text, 'analytics_event_delay_seconds_bucket', { le: '300' })).toBe(inserted);
    const lastInsertS = metricValue(text, 'analytics_last_insert_timestamp_seconds');
    expect(lastInsertS).toBeGreaterThanOrEqual(startedS - 1);
    expect(lastInsertS).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });
});
