// GetOperations and GetAccountSummary over real gRPC, fed through a real
// Kafka topic into the real chDB engine.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import { createSchemaChecker, createTopics, TestProducer, uniqueName, waitFor } from '@wallet/testkit';
import { parseGrpcError } from '@wallet/platform';
import { OperationType, SummaryGranularity } from '@wallet/contracts/analytics';
import type { OperationEvent } from '@wallet/contracts';
import { at, topUpEvent, transferEvent } from '../support/events.js';
import { analyticsClient, readAllPages, removeChdbPath, startInProcess, tempChdbPath, type AnalyticsTestClient } from '../support/service.js';

const topic = uniqueName('ops-grpc');
const checkSchema = createSchemaChecker();
let app: Awaited<ReturnType<typeof startInProcess>>;
let client: AnalyticsTestClient;
let producer: TestProducer;
const chdbPath = tempChdbPath('grpc');

async function publish(events: OperationEvent[]): Promise<void> {
  for (const event of events) expect(checkSchema(event)).toEqual([]);
  await producer.sendEvents(topic, events);
}

async function waitForCount(accountId: string, count: number): Promise<void> {
  await waitFor(async () => (await readAllPages(client, { accountId, pageSize: 100 })).length === count, {
    what: `${count} operations of ${accountId}`,
    timeoutMs: 60_000,
  });
}

async function expectGrpcError(promise: Promise<unknown>, code: Status, reason: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the call should fail').toBeDefined();
  const parsed = parseGrpcError(error);
  expect({ code: parsed.code, reason: parsed.reason, domain: parsed.domain }).toEqual({ code, reason, domain: 'analytics.wallet' });
}

beforeAll(async () => {
  await createTopics([
    { name: topic, partitions: 3 },
    { name: `${topic}.dlq`, partitions: 1 },
  ]);
  app = await startInProcess({ ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic, ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`, ANALYTICS_KAFKA_GROUP_ID: uniqueName('analytics-grpc'), ANALYTICS_CHDB_PATH: chdbPath });
  client = analyticsClient(app.grpcPort);
  producer = new TestProducer();
});

afterAll(async () => {
  client?.close();
  await producer?.close();
  await app?.stop();
  removeChdbPath(chdbPath);
});

describe('GetOperations pagination', { timeout: 180_000 }, () => {
  it('pages newest first with no gaps or repeats while new events arrive concurrently', async () => {
    const accountId = randomUUID();
    // 120 events over two minutes, several sharing a timestamp so the event id breaks ties.
    const seeded = Array.from({ length: 120 }, (_, i) =>
      transferEvent({ accountId, type: i % 3 === 0 ? 'transfer_out' : 'transfer_in', amount: `${i + 1}.00`, occurredAt: at('2025-08-01T00:00:00Z', Math.floor(i / 4) * 1000, i % 2) }),
    );
    await publish(seeded);
    await waitForCount(accountId, seeded.length);

    // While we page: 60 more events, newer than every seeded one and interleaved among them.
    const concurrent = Array.from({ length: 60 }, (_, i) =>
      transferEvent({ accountId, amount: '1.00', occurredAt: i % 2 === 0 ? at('2025-08-02T00:00:00Z', i * 1000) : at('2025-08-01T00:00:00Z', (i % 30) * 1000, 500 + i) }),
    );
    const seen: { id: string; createdAt: number }[] = [];
    let pageToken = '';
    let pages = 0;
    for (; pages < 100; pages += 1) {
      const response = await client.getOperations({ accountId, pageSize: 7, pageToken });
      seen.push(...response.operations.map((op) => ({ id: op.id, createdAt: op.createdAt!.getTime() })));
      // Wait until they are stored, so they really are in the table between two page reads.
      if (pages === 2) {
        await publish(concurrent.slice(0, 30));
        await waitForCount(accountId, seeded.length + 30);
      }
      if (pages === 6) {
        await publish(concurrent.slice(30));
        await waitForCount(accountId, seeded.length + 60);
      }
      if (!response.nextPageToken) break;
      expect(response.operations).toHaveLength(7);
      pageToken = response.nextPageToken;
    }
    const ids = seen.map((s) => s.id);
    expect(new Set(ids).size, 'no operation is returned twice').toBe(ids.length);
    const seenIds = new Set(ids);
    expect(seeded.filter((e) => !seenIds.has(e.eventId)), 'every operation present when paging began is returned').toEqual([]);
    for (let i = 1; i < seen.length; i += 1) expect(seen[i]!.createdAt).toBeLessThanOrEqual(seen[i - 1]!.createdAt);
    // The newer concurrent events sort before the first page, so they never appear later.
    const newer = new Set(concurrent.filter((_, i) => i % 2 === 0).map((e) => e.eventId));
    expect(ids.filter((id) => newer.has(id))).toEqual([]);
    // Interleaved events that sort after the cursor at the time they arrived show up in later pages.
    const interleaved = new Set(concurrent.filter((_, i) => i % 2 === 1).map((e) => e.eventId));
    expect(ids.filter((id) => interleaved.has(id)).length).toBeGreaterThan(0);
    // A fresh listing holds every event exactly once.
    const fresh = (await readAllPages(client, { accountId, pageSize: 100 })).map((op) => op.id);
    expect(new Set(fresh).size).toBe(seeded.length + concurrent.length);
  });

  it('filters by type and by [from, to) and keeps the cursor valid for the same filters', async () => {
    const accountId = randomUUID();
    const events = [
      topUpEvent({ accountId, amount: '10.00', occurredAt: '2025-09-01T00:00:00Z' }),
      transferEvent({ accountId, type: 'transfer_out', amount: '1.00', occurredAt: '2025-09-02T00:00:00Z' }),
      topUpEvent({ accountId, amount: '20.00', occurredAt: '2025-09-03T00:00:00Z' }),
      transferEvent({ accountId, type: 'transfer_in', amount: '2.00', occurredAt: '2025-09-04T00:00:00Z' }),
      topUpEvent({ accountId, amount: '30.00', occurredAt: '2025-09-05T00:00:00.000001Z' }),
    ];
    await publish(events);
    await waitForCount(accountId, events.length);

    const topUps = await readAllPages(client, { accountId, pageSize: 1, types: [OperationType.OPERATION_TYPE_TOPUP] });
    expect(topUps.map((op) => op.amount?.amountMinor)).toEqual([3000n, 2000n, 1000n]);
    expect(topUps[0]).toMatchObject({ type: OperationType.OPERATION_TYPE_TOPUP, cardLast4: '4242', topUpId: events[4]!.eventType === 'topup' ? events[4]!.topUpId : '', counterpartyAccountId: '' });

    const transfers = await readAllPages(client, { accountId, types: [OperationType.OPERATION_TYPE_TRANSFER_IN, OperationType.OPERATION_TYPE_TRANSFER_OUT] });
    expect(transfers.map((op) => op.type)).toEqual([OperationType.OPERATION_TYPE_TRANSFER_IN, OperationType.OPERATION_TYPE_TRANSFER_OUT]);

    const window = await readAllPages(client, { accountId, pageSize: 1, fromTime: new Date('2025-09-02T00:00:00Z'), toTime: new Date('2025-09-05T00:00:00Z') });
    expect(window.map((op) => op.createdAt?.toISOString())).toEqual(['2025-09-04T00:00:00.000Z', '2025-09-03T00:00:00.000Z', '2025-09-02T00:00:00.000Z']);

    const first = await client.getOperations({ accountId, pageSize: 2 });
    expect(first.operations.map((op) => op.id)).toEqual([events[4]!.eventId, events[3]!.eventId]);
    const second = await client.getOperations({ accountId, pageSize: 2, pageToken: first.nextPageToken });
    expect(second.operations.map((op) => op.id)).toEqual([events[2]!.eventId, events[1]!.eventId]);
    const last = await client.getOperations({ accountId, pageSize: 2, pageToken: second.nextPageToken });
    expect(last.operations.map((op) => op.id)).toEqual([events[0]!.eventId]);
    expect(last.nextPageToken).toBe('');
  });

  it('rejects a tampered, foreign or garbage cursor with INVALID_CURSOR', async () => {
    const accountId = randomUUID();
    await publish([0, 1, 2].map((i) => topUpEvent({ accountId, amount: '1.00', occurredAt: at('2025-10-01T00:00:00Z', i) })));
    await waitForCount(accountId, 3);
    const { nextPageToken } = await client.getOperations({ accountId, pageSize: 1 });
    expect(nextPageToken).not.toBe('');

    const flipped = `${nextPageToken.slice(0, 20)}${nextPageToken[20] === 'A' ? 'B' : 'A'}${nextPageToken.slice(21)}`;
    await expectGrpcError(client.getOperations({ accountId, pageSize: 1, pageToken: flipped }), Status.INVALID_ARGUMENT, 'INVALID_CURSOR');
    await expectGrpcError(client.getOperations({ accountId: randomUUID(), pageSize: 1, pageToken: nextPageToken }), Status.INVALID_ARGUMENT, 'INVALID_CURSOR');
    await expectGrpcError(client.getOperations({ accountId, pageSize: 1, pageToken: nextPageToken, types: [OperationType.OPERATION_TYPE_TOPUP] }), Status.INVALID_ARGUMENT, 'INVALID_CURSOR');
    await expectGrpcError(client.getOperations({ accountId, pageSize: 1, pageToken: nextPageToken, fromTime: new Date('2025-01-01T00:00:00Z') }), Status.INVALID_ARGUMENT, 'INVALID_CURSOR');
    await expectGrpcError(client.getOperations({ accountId, pageToken: 'not-a-cursor' }), Status.INVALID_ARGUMENT, 'INVALID_CURSOR');
    // The page size is not part of the filters: a client may change it between pages.
    expect((await client.getOperations({ accountId, pageSize: 5, pageToken: nextPageToken })).operations).toHaveLength(2);
  });

  it('validates page size, account id, types and time range with INVALID_ARGUMENT', async () => {
    const accountId = randomUUID();
    await expectGrpcError(client.getOperations({ accountId, pageSize: 101 }), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectGrpcError(client.getOperations({ accountId, pageSize: -1 }), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectGrpcError(client.getOperations({ accountId: 'acc-1' }), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectGrpcError(client.getOperations({ accountId, types: [OperationType.OPERATION_TYPE_UNSPECIFIED] }), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectGrpcError(
      client.getOperations({ accountId, fromTime: new Date('2025-02-01T00:00:00Z'), toTime: new Date('2025-01-01T00:00:00Z') }),
      Status.INVALID_ARGUMENT,
      'INVALID_ARGUMENT',
    );
    // An account without operations is an empty page, not an error (the gateway owns 404).
    expect(await client.getOperations({ accountId })).toEqual({ operations: [], nextPageToken: '' });
  });

  it('defaults to pages of 20', async () => {
    const accountId = randomUUID();
    await publish(Array.from({ length: 21 }, (_, i) => topUpEvent({ accountId, amount: '1.00', occurredAt: at('2025-10-02T00:00:00Z', i) })));
    await waitForCount(accountId, 21);
    const page = await client.getOperations({ accountId });
    expect(page.operations).toHaveLength(20);
    expect(page.nextPageToken).not.toBe('');
  });
});

describe('GetAccountSummary', { timeout: 180_000 }, () => {
  it('totals money in (transfer_in + topup) and out (transfer_out) per day and per month, exactly', async () => {
    const accountId = randomUUID();
    const events = [
      topUpEvent({ accountId, amount: '100.10', occurredAt: '2025-01-30T23:59:59.999999Z' }),
      transferEvent({ accountId, type: 'transfer_in', amount: '0.01', occurredAt: '2025-01-31T00:00:00Z' }),
      transferEvent({ accountId, type: 'transfer_out', amount: '40.05', occurredAt: '2025-01-31T12:00:00Z' }),
      transferEvent({ accountId, type: 'transfer_out', amount: '999999999999999.99', occurredAt: '2025-02-01T00:00:00Z' }),
      topUpEvent({ accountId, amount: '999999999999999.99', occurredAt: '2025-02-01T01:00:00Z' }),
      topUpEvent({ accountId, amount: '5.00', occurredAt: '2025-03-01T00:00:00Z' }), // outside the day range below
    ];
    await publish(events);
    await publish([events[2]!]); // a redelivery must not count twice
    await waitForCount(accountId, events.length);

    const daily = await client.getAccountSummary({ accountId, fromTime: new Date('2025-01-30T00:00:00Z'), toTime: new Date('2025-02-02T00:00:00Z'), granularity: SummaryGranularity.SUMMARY_GRANULARITY_DAY });
    const usd = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });
    expect(daily.accountId).toBe(accountId);
    expect(daily.currencyCode).toBe('USD');
    expect(daily.buckets.map((b) => [b.periodStart?.toISOString().slice(0, 10), b.totalIn?.amountMinor, b.totalOut?.amountMinor, b.countIn, b.countOut])).toEqual([
      ['2025-01-30', 10010n, 0n, 1n, 0n],
      ['2025-01-31', 1n, 4005n, 1n, 1n],
      ['2025-02-01', 99999999999999999n, 99999999999999999n, 1n, 1n],
    ]);
    expect(daily.totalIn).toEqual(usd(10010n + 1n + 99999999999999999n));
    expect(daily.totalOut).toEqual(usd(4005n + 99999999999999999n));

    const monthly = await client.getAccountSummary({ accountId, fromTime: new Date('2025-01-01T00:00:00Z'), toTime: new Date('2025-04-01T00:00:00Z'), granularity: SummaryGranularity.SUMMARY_GRANULARITY_MONTH });
    expect(monthly.buckets.map((b) => [b.periodStart?.toISOString().slice(0, 7), b.totalIn?.amountMinor, b.totalOut?.amountMinor])).toEqual([
      ['2025-01', 10011n, 4005n],
      ['2025-02', 99999999999999999n, 99999999999999999n],
      ['2025-03', 500n, 0n],
    ]);

    // [from, to) is exact to the microsecond: the last microsecond of Jan 30 is excluded here.
    const cut = await client.getAccountSummary({ accountId, fromTime: new Date('2025-01-31T00:00:00Z'), toTime: new Date('2025-02-01T00:00:00Z') });
    expect(cut.buckets).toHaveLength(1);
    expect(cut.totalIn).toEqual(usd(1n));
  });

  it('bounds the range: 366 days by day, 10 years by month, both ends required', async () => {
    const accountId = randomUUID();
    const from = new Date('2024-01-01T00:00:00Z');
    await expectGrpcError(client.getAccountSummary({ accountId, fromTime: from, toTime: new Date('2025-01-01T00:00:00.001Z') }), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    await expectGrpcError(
      client.getAccountSummary({ accountId, fromTime: from, toTime: new Date('2034-01-02T00:00:00Z'), granularity: SummaryGranularity.SUMMARY_GRANULARITY_MONTH }),
      Status.INVALID_ARGUMENT,
      'INVALID_ARGUMENT',
    );
    await expectGrpcError(client.getAccountSummary({ accountId, toTime: from }), Status.INVALID_ARGUMENT, 'INVALID_ARGUMENT');
    const tenYears = await client.getAccountSummary({ accountId, fromTime: from, toTime: new Date('2034-01-01T00:00:00Z'), granularity: SummaryGranularity.SUMMARY_GRANULARITY_MONTH });
    expect(tenYears.buckets).toHaveLength(120);
    expect(tenYears.totalIn).toEqual({ amountMinor: 0n, currencyCode: 'USD' });
  });
});
