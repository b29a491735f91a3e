// The consumer against a real Kafka broker and the real chDB engine: valid
// events land in history, invalid ones in the dead-letter topic, duplicates
// never show twice.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchemaChecker, createTopics, readTopic, TestProducer, uniqueName, waitFor } from '@wallet/testkit';
import { OperationType } from '@wallet/contracts/analytics';
import { eventToRow } from '../../src/domain/operation.js';
import { at, topUpEvent, transferEvent, transferPair } from '../support/events.js';
import { analyticsClient, metricValue, readAllPages, removeChdbPath, startInProcess, tempChdbPath, type AnalyticsTestClient } from '../support/service.js';

const topic = uniqueName('ops');
const dlqTopic = `${topic}.dlq`;
const checkSchema = createSchemaChecker();
let app: Awaited<ReturnType<typeof startInProcess>>;
let client: AnalyticsTestClient;
let producer: TestProducer;
const chdbPath = tempChdbPath('consumer');

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${app.opsPort}/metrics`)).text();
}

async function historyOf(accountId: string) {
  return readAllPages(client, { accountId, pageSize: 100 });
}

beforeAll(async () => {
  await createTopics([
    { name: topic, partitions: 3 },
    { name: dlqTopic, partitions: 1 },
  ]);
  app = await startInProcess({
    ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
    ANALYTICS_KAFKA_DLQ_TOPIC: dlqTopic,
    ANALYTICS_KAFKA_GROUP_ID: uniqueName('analytics'),
    ANALYTICS_CHDB_PATH: chdbPath,
    ANALYTICS_BATCH_SIZE_MAX: '50',
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

describe('analytics consumer', { timeout: 180_000 }, () => {
  it('stores both sides of a transfer so each account sees its own operation', async () => {
    const from = randomUUID();
    const to = randomUUID();
    const events = transferPair({ from, to, amount: '10.50', occurredAt: at('2025-05-01T10:00:00Z', 0, 123), description: 'dinner' });
    for (const event of events) expect(checkSchema(event)).toEqual([]);
    await producer.sendEvents(topic, events);

    const [outgoing] = await waitFor(async () => {
      const ops = await historyOf(from);
      return ops.length === 1 ? ops : undefined;
    }, { what: 'sender history', timeoutMs: 60_000 });
    expect(outgoing).toMatchObject({
      id: events[0].eventId,
      accountId: from,
      type: OperationType.OPERATION_TYPE_TRANSFER_OUT,
      amount: { amountMinor: 1050n, currencyCode: 'USD' },
      counterpartyAccountId: to,
      transferId: events[0].transferId,
      description: 'dinner',
    });
    const incoming = await waitFor(async () => (await historyOf(to))[0], { what: 'recipient history', timeoutMs: 60_000 });
    expect(incoming).toMatchObject({ id: events[1].eventId, type: OperationType.OPERATION_TYPE_TRANSFER_IN, counterpartyAccountId: from });
  });

  it('stores who made each movement and returns it as initiated_by; events without initiatedBy (older producers) show an empty one', async () => {
    const from = randomUUID();
    const to = randomUUID();
    const alice = '11111111-1111-4111-8111-111111111111';
    const transfers = transferPair({ from, to, amount: '3.00', occurredAt: at('2025-05-02T10:00:00Z', 0), initiatedBy: alice });
    const topUp = topUpEvent({ accountId: from, amount: '7.00', occurredAt: at('2025-05-02T10:00:00Z', 1), initiatedBy: alice });
    const legacy = topUpEvent({ accountId: from, amount: '1.00', occurredAt: at('2025-05-02T10:00:00Z', 2) });
    for (const event of [...transfers, topUp, legacy]) expect(checkSchema(event)).toEqual([]);
    await producer.sendEvents(topic, [...transfers, topUp, legacy]);

    const ops = await waitFor(async () => {
      const found = await historyOf(from);
      return found.length === 3 ? found : undefined;
    }, { what: 'the three operations of the sender', timeoutMs: 60_000 });
    const byId = new Map(ops.map((op) => [op.id, op]));
    expect(byId.get(transfers[0].eventId)?.initiatedBy).toBe(alice);
    expect(byId.get(topUp.eventId)).toMatchObject({ type: OperationType.OPERATION_TYPE_TOPUP, initiatedBy: alice });
    expect(byId.get(legacy.eventId)?.initiatedBy).toBe('');
    const incoming = await waitFor(async () => (await historyOf(to))[0], { what: 'recipient history', timeoutMs: 60_000 });
    expect(incoming.initiatedBy).toBe(alice);
  });

  it('parks schema-invalid and unparsable events in the dead-letter topic with reason and source position, and keeps consuming', async () => {
    const accountId = randomUUID();
    const valid = topUpEvent({ accountId, amount: '5.00', occurredAt: at('2025-05-02T00:00:00Z', 0) });
    const floatAmount = { ...transferEvent({ accountId, occurredAt: at('2025-05-02T00:00:00Z', 1) }), amount: 10.5 };
    const unknownType = { ...transferEvent({ accountId, occurredAt: at('2025-05-02T00:00:00Z', 2) }), eventType: 'chargeback' };
    const rejected = [
      { key: accountId, value: JSON.stringify(floatAmount), reason: 'schema_invalid' },
      { key: accountId, value: '{"eventId": "not json', reason: 'unparsable' },
      { key: accountId, value: JSON.stringify(unknownType), reason: 'unknown_event_type' },
      { key: accountId, value: '', reason: 'empty' },
    ];
    const invalidBefore = metricValue(await metrics(), 'analytics_events_invalid_total');
    // Same key, so all land on one partition in this order, the valid event last.
    await producer.send(topic, rejected.map(({ key, value }) => ({ key, value })));
    expect(checkSchema(valid)).toEqual([]);
    await producer.sendEvents(topic, [valid]);

    await waitFor(async () => (await historyOf(accountId)).length === 1, { what: 'the valid event after the bad ones', timeoutMs: 60_000 });
    const parked = await readTopic(dlqTopic, rejected.length);
    const ours = parked.filter((record) => record.key === accountId);
    expect(ours.map((r) => r.headers.get('dlqReason'))).toEqual(rejected.map((r) => r.reason));
    expect(ours.map((r) => r.value.toString())).toEqual(rejected.map((r) => r.value));
    for (const record of ours) {
      expect(record.headers.get('sourceTopic')).toBe(topic);
      expect(record.headers.get('sourcePartition')).toMatch(/^[0-2]$/);
      expect(record.headers.get('sourceOffset')).toMatch(/^\d+$/);
      expect(record.headers.get('dlqDetail')?.length).toBeGreaterThan(0);
    }
    const offsets = ours.map((r) => BigInt(r.headers.get('sourceOffset')!));
    expect([...offsets].sort((a, b) => (a < b ? -1 : 1))).toEqual(offsets);
    await waitFor(async () => metricValue(await metrics(), 'analytics_events_invalid_total') - invalidBefore === rejected.length, { what: 'invalid counter', timeoutMs: 60_000 });
    const text = await metrics();
    expect(metricValue(text, 'analytics_events_invalid_total', { reason: 'schema_invalid' })).toBeGreaterThanOrEqual(1);
    expect(metricValue(text, 'analytics_dlq_produced_total')).toBeGreaterThanOrEqual(rejected.length);
  });

  it('ignores duplicated events, within a batch and across batches', async () => {
    const accountId = randomUUID();
    const events = [0, 1, 2].map((i) => topUpEvent({ accountId, amount: `${i + 1}.00`, occurredAt: at('2025-05-03T00:00:00Z', i * 1000) }));
    for (const event of events) expect(checkSchema(event)).toEqual([]);
    const duplicatesBefore = metricValue(await metrics(), 'analytics_events_duplicate_total');

    await producer.sendEvents(topic, [...events, events[0]!, events[0]!]); // repeated in the same batch
    await waitFor(async () => (await historyOf(accountId)).length === 3, { what: 'first delivery', timeoutMs: 60_000 });
    await producer.sendEvents(topic, [events[1]!, events[2]!]); // redelivered later, as after a relay retry
    await waitFor(async () => metricValue(await metrics(), 'analytics_events_duplicate_total') - duplicatesBefore === 4, { what: 'four duplicates counted', timeoutMs: 60_000 });

    const history = await historyOf(accountId);
    expect(history.map((op) => op.id).sort()).toEqual(events.map((e) => e.eventId).sort());
    // Skipped before insert: no duplicate row was even written.
    expect(await app.store.countRawRows(accountId)).toBe(3);
    const summary = await client.getAccountSummary({ accountId, fromTime: new Date('2025-05-01T00:00:00Z'), toTime: new Date('2025-06-01T00:00:00Z') });
    expect(summary.totalIn).toEqual({ amountMinor: 600n, currencyCode: 'USD' });
  });

  it('shows a row once even when the store holds it twice (ReplacingMergeTree + FINAL)', async () => {
    // Two consumers racing on the same event (e.g. during a rebalance) both
    // pass the lookup; the table key collapses their rows.
    const accountId = randomUUID();
    const event = transferEvent({ accountId, type: 'transfer_out', amount: '7.77', occurredAt: at('2025-05-04T00:00:00Z', 0, 5) });
    const row = eventToRow(event);
    await app.store.insert([row]);
    await app.store.insert([row]);
    expect(await app.store.countRawRows(accountId)).toBe(2);
    const history = await historyOf(accountId);
    expect(history.map((op) => op.id)).toEqual([event.eventId]);
    const summary = await client.getAccountSummary({ accountId, fromTime: new Date('2025-05-04T00:00:00Z'), toTime: new Date('2025-05-05T00:00:00Z') });
    expect(summary.totalOut).toEqual({ amountMinor: 777n, currencyCode: 'USD' });
    expect(summary.buckets[0]?.countOut).toBe(1n);
  });

  it('reports readiness of broker and store, the partitions it holds, and consumer lag per partition', async () => {
    const ready = await fetch(`http://127.0.0.1:${app.opsPort}/readyz`);
    expect(ready.status).toBe(200);
    const body = (await ready.json()) as { detail: { consumerGroup: { memberId: string | null } } };
    // The only member of its group holds every partition; the detail reports it and never decides readiness.
    expect(body).toEqual({
      status: 'ok',
      checks: { kafka: 'ok', store: 'ok' },
      detail: {
        consumerGroup: {
          groupId: app.config.ANALYTICS_KAFKA_GROUP_ID,
          instanceId: app.config.ANALYTICS_KAFKA_GROUP_INSTANCE_ID,
          memberId: expect.any(String),
          generation: expect.any(Number),
          partitions: [0, 1, 2],
        },
      },
    });
    expect(metricValue(await metrics(), 'analytics_consumer_assigned_partitions')).toBe(3);
    expect((await fetch(`http://127.0.0.1:${app.opsPort}/healthz`)).status).toBe(200);
    await waitFor(async () => {
      const text = await metrics();
      return [0, 1, 2].every((p) => text.includes(`analytics_consumer_lag{topic="${topic}",partition="${p}"`)) && metricValue(text, 'analytics_consumer_lag') === 0;
    }, { what: 'lag of every partition measured and drained', timeoutMs: 60_000 });
    const text = await metrics();
    for (const name of [
      'analytics_events_consumed_total',
      'analytics_batch_size_count',
      'analytics_insert_duration_seconds_count',
      'analytics_events_inserted_total',
      'analytics_event_delay_seconds_count',
      'analytics_last_insert_timestamp_seconds',
      'grpc_server_handling_seconds_count',
    ]) {
      expect(metricValue(text, name), name).toBeGreaterThan(0);
    }
  });
});
