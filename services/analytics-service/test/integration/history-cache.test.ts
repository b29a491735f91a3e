// The history page cache in the running service (real Kafka, real chDB, real
// gRPC): once the hand-over hold has passed, repeated pages are served from
// the cache, and every page the consumer makes outdated is dropped when its
// batch is stored: a new operation shows on the cached first page, a late one
// on a cached cursor page. Cursors stay exact with duplicate rows stored.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopics, TestProducer, uniqueName, waitFor } from '@wallet/testkit';
import type { OperationEvent } from '@wallet/contracts';
import { eventToRow } from '../../src/domain/operation.js';
import { at, topUpEvent, transferEvent } from '../support/events.js';
import { analyticsClient, metricValue, readAllPages, removeChdbPath, startInProcess, tempChdbPath, type AnalyticsTestClient } from '../support/service.js';

const topic = uniqueName('ops-cache');
const chdbPath = tempChdbPath('cache');
let app: Awaited<ReturnType<typeof startInProcess>>;
let client: AnalyticsTestClient;
let producer: TestProducer;

const metric = async (name: string) => metricValue(await app.registry.metrics(), name);
const ids = async (request: Parameters<AnalyticsTestClient['getOperations']>[0]) => (await client.getOperations(request)).operations.map((op) => op.id);

async function publishAndWait(events: OperationEvent[], accountId: string, count: number): Promise<void> {
  await producer.sendEvents(topic, events);
  await waitFor(async () => (await readAllPages(client, { accountId, pageSize: 100 })).length === count, { what: `${count} operations`, timeoutMs: 60_000 });
}

beforeAll(async () => {
  await createTopics([
    { name: topic, partitions: 3 },
    { name: `${topic}.dlq`, partitions: 1 },
  ]);
  app = await startInProcess({
    ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
    ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    ANALYTICS_KAFKA_GROUP_ID: uniqueName('analytics-cache'),
    ANALYTICS_CHDB_PATH: chdbPath,
    // Hand-over hold = session timeout + store request timeout: 6.5 s here.
    ANALYTICS_CLICKHOUSE_REQUEST_TIMEOUT_MS: '500',
  });
  client = analyticsClient(app.grpcPort);
  producer = new TestProducer();
});

afterAll(async () => {
  client?.close();
  await producer?.close();
  await app?.stop();
  removeChdbPath(chdbPath);
});

describe('history page cache', { timeout: 180_000 }, () => {
  it('serves repeated pages from the cache and shows a newly stored operation on the cached first page', async () => {
    const accountId = randomUUID();
    const first = topUpEvent({ accountId, amount: '1.00', occurredAt: at('2025-09-01T00:00:00Z', 0) });
    await publishAndWait([first], accountId, 1);
    // The hold passes, then a read fills the cache and the next one hits it.
    const hitsBefore = await metric('analytics_history_cache_hits_total');
    await waitFor(async () => (await ids({ accountId }), (await metric('analytics_history_cache_hits_total')) > hitsBefore), { what: 'a cache hit', timeoutMs: 60_000, intervalMs: 250 });
    expect(await ids({ accountId })).toEqual([first.eventId]);

    const second = topUpEvent({ accountId, amount: '2.00', occurredAt: at('2025-09-01T00:00:00Z', 1_000) });
    await producer.sendEvents(topic, [second]);
    await waitFor(async () => (await ids({ accountId })).length === 2, { what: 'the new operation on the first page', timeoutMs: 30_000 });
    expect(await ids({ accountId })).toEqual([second.eventId, first.eventId]);
    expect(await metric('analytics_history_cache_entries')).toBeGreaterThan(0);
  });

  it('shows a late (older) operation on a cached cursor page', async () => {
    const accountId = randomUUID();
    const newest = transferEvent({ accountId, occurredAt: at('2025-09-02T00:00:00Z', 3_000) });
    const oldest = transferEvent({ accountId, occurredAt: at('2025-09-02T00:00:00Z', 1_000) });
    await publishAndWait([newest, oldest], accountId, 2);
    const page1 = await client.getOperations({ accountId, pageSize: 1 });
    expect(page1.operations.map((op) => op.id)).toEqual([newest.eventId]);
    const cursorPage = { accountId, pageSize: 1, pageToken: page1.nextPageToken };
    const hitsBefore = await metric('analytics_history_cache_hits_total');
    await waitFor(async () => (await ids(cursorPage), (await metric('analytics_history_cache_hits_total')) > hitsBefore), { what: 'a cache hit', timeoutMs: 60_000, intervalMs: 250 });
    expect(await ids(cursorPage)).toEqual([oldest.eventId]);

    const late = transferEvent({ accountId, occurredAt: at('2025-09-02T00:00:00Z', 2_000) });
    await producer.sendEvents(topic, [late]);
    await waitFor(async () => (await ids(cursorPage))[0] === late.eventId, { what: 'the late operation on the cursor page', timeoutMs: 30_000 });
  });

  it('reads the first pages of many accounts in one batch exactly as one by one (ties, duplicates, short and empty accounts)', async () => {
    const [tied, short, empty, exact] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    // Groups of 4 rows share a microsecond, so page bottoms fall inside a tie; every row stored twice.
    const tiedRows = Array.from({ length: 25 }, (_, i) => eventToRow(transferEvent({ accountId: tied, occurredAt: at('2025-09-04T00:00:00Z', Math.floor(i / 4)) })));
    const shortRows = Array.from({ length: 3 }, (_, i) => eventToRow(topUpEvent({ accountId: short, amount: '3.00', occurredAt: at('2025-09-04T00:00:00Z', i) })));
    const exactRows = Array.from({ length: 21 }, (_, i) => eventToRow(transferEvent({ accountId: exact, occurredAt: at('2025-08-04T00:00:00Z', i * 86_400_000) })));
    await app.store.insert([...tiedRows, ...shortRows, ...exactRows]);
    await app.store.insert(tiedRows);
    const accounts = [tied, short, empty, exact];
    for (const pageSize of [20, 5, 4, 1]) {
      const batch = await app.store.listFirstPages(accounts, pageSize);
      for (const accountId of accounts) {
        const single = await app.store.listOperations({ filter: { accountId, types: [] }, pageSize });
        expect(batch.get(accountId), `page size ${pageSize}`).toEqual(single);
      }
    }
    expect((await app.store.listFirstPages(accounts, 20)).get(exact)?.next, 'a 21st row means a next page').toBeDefined();
  });

  it('keeps cursors exact, with no repeats or gaps, while the store holds duplicate rows', async () => {
    const accountId = randomUUID();
    const events = Array.from({ length: 9 }, (_, i) => transferEvent({ accountId, occurredAt: at('2025-09-03T00:00:00Z', Math.floor(i / 3) * 1_000, i % 2) }));
    // Two replicas racing on one batch both pass the lookup: every row stored twice.
    const rows = events.map(eventToRow);
    await app.store.insert(rows);
    await app.store.insert(rows);
    expect(await app.store.countRawRows(accountId)).toBe(18);
    for (let pass = 0; pass < 2; pass += 1) {
      const seen = await readAllPages(client, { accountId, pageSize: 2 });
      // Each once (ties on created_at are ordered by event id as ClickHouse orders UUIDs), newest first.
      expect(seen.map((op) => op.id).sort(), `pass ${pass + 1}`).toEqual(events.map((e) => e.eventId).sort());
      const times = seen.map((op) => op.createdAt!.getTime());
      expect(times).toEqual([...times].sort((a, b) => b - a));
    }
  });
});
