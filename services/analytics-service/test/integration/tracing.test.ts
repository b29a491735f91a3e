// Traces of the analytics-service against a real broker and real chDB, the
// spans captured in memory: a record joins the trace in its traceparent header
// (CONSUMER `process <topic>` span), its row's insert is an `INSERT <table>`
// child linked to the batch's `analytics.flush` span, a dead letter carries the
// trace on, history reads are ClickHouse SELECT spans under the gRPC call, and
// no attribute holds a row value.
import { randomBytes, randomUUID } from 'node:crypto';
import { Producer, stringSerializer } from '@platformatic/kafka';
import { createLogger } from '@wallet/platform';
import {
  InMemorySpanExporter,
  SpanKind,
  SpanStatusCode,
  startTracing,
  withSpan,
  type ReadableSpan,
  type TracingHandle,
} from '@wallet/platform/tracing';
import { brokers, createTopics, readTopic, uniqueName, waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { at, topUpEvent, transferPair } from '../support/events.js';
import { analyticsClient, removeChdbPath, startInProcess, tempChdbPath, type AnalyticsTestClient } from '../support/service.js';

const topic = uniqueName('traced');
const dlqTopic = `${topic}.dlq`;
const groupId = uniqueName('traced');
const chdbPath = tempChdbPath('tracing');
const exporter = new InMemorySpanExporter();
let tracing: TracingHandle;
let app: Awaited<ReturnType<typeof startInProcess>>;
let client: AnalyticsTestClient;
let table: string;
const producer = new Producer({
  clientId: 'tracing-test-producer',
  bootstrapBrokers: brokers(),
  serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
});

/** The service's log lines, parsed (to check they carry the record's trace id). */
const logLines: Record<string, unknown>[] = [];
const logger = createLogger('analytics-service', 'info', {}, { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) });

/** Values that must never appear in a span attribute (row contents, not ids or counts). */
const rowValues = { amount: '12.34', amountMinor: '1234', description: 'rent for the blue flat', cardLast4: '4242' };

function spans(): ReadableSpan[] {
  return exporter.getFinishedSpans();
}

const ms = (time: [number, number]) => time[0] * 1_000 + time[1] / 1e6;
const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** Sends one record (one partition: offsets are in order) and returns its offset. */
async function send(value: string, headers: Record<string, string>, key: string = randomUUID()): Promise<number> {
  const result = await producer.send({ messages: [{ topic, key, value: Buffer.from(value), headers }] });
  return Number(result.offsets?.[0]?.offset ?? -1);
}

async function waitForSpan(what: string, match: (span: ReadableSpan) => boolean): Promise<ReadableSpan> {
  return waitFor(() => spans().find(match), { what, timeoutMs: 60_000 });
}

const processSpanAt = (offset: number) => (span: ReadableSpan) => span.name === `process ${topic}` && span.attributes['messaging.kafka.offset'] === offset;
const childOf = (parent: ReadableSpan, name: string) => (span: ReadableSpan) => span.name === name && span.parentSpanContext?.spanId === parent.spanContext().spanId;

beforeAll(async () => {
  tracing = startTracing('analytics-service', {}, { exporter, simpleProcessor: true });
  await createTopics([
    { name: topic, partitions: 1 },
    { name: dlqTopic, partitions: 1 },
  ]);
  app = await startInProcess({
    ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
    ANALYTICS_KAFKA_DLQ_TOPIC: dlqTopic,
    ANALYTICS_KAFKA_GROUP_ID: groupId,
    ANALYTICS_CHDB_PATH: chdbPath,
  }, logger);
  table = `${app.config.ANALYTICS_CLICKHOUSE_DATABASE}.operations`;
  client = analyticsClient(app.grpcPort);
});

afterAll(async () => {
  client?.close();
  await producer.close();
  await app?.stop();
  await tracing?.shutdown();
  removeChdbPath(chdbPath);
});

describe('analytics tracing', { timeout: 120_000 }, () => {
  it('a record with a traceparent gets a CONSUMER span in that trace; its row insert is an INSERT child linked to the flush span', async () => {
    const traceId = hex(16);
    const producerSpanId = hex(8);
    const event = topUpEvent({ accountId: randomUUID(), amount: rowValues.amount, occurredAt: at('2025-06-01T00:00:00Z', 0) });
    const offset = await send(JSON.stringify(event), { eventType: 'topup', traceparent: `00-${traceId}-${producerSpanId}-01` }, event.accountId);

    const record = await waitForSpan('the record span', processSpanAt(offset));
    expect(record.spanContext().traceId).toBe(traceId);
    expect(record.parentSpanContext?.spanId).toBe(producerSpanId);
    expect(record.kind).toBe(SpanKind.CONSUMER);
    expect(record.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': topic,
      'messaging.destination.partition.id': '0',
      'messaging.consumer.group.name': groupId,
      'analytics.outcome': 'inserted',
    });
    expect(record.status.code).not.toBe(SpanStatusCode.ERROR);

    const insert = await waitForSpan('the INSERT child of the record span', childOf(record, `INSERT ${table}`));
    expect(insert.kind).toBe(SpanKind.CLIENT);
    expect(insert.spanContext().traceId).toBe(traceId);
    expect(insert.attributes).toMatchObject({ 'db.system.name': 'clickhouse', 'db.operation.name': 'INSERT', 'db.collection.name': table });
    expect(insert.links).toHaveLength(1);
    const flush = await waitForSpan('the flush span', (span) => span.name === 'analytics.flush' && span.spanContext().spanId === insert.links[0]!.context.spanId);
    expect(flush.parentSpanContext).toBeUndefined();
    expect(flush.attributes['messaging.batch.message_count']).toBeGreaterThanOrEqual(1);
    expect(flush.attributes['analytics.flush.outcome']).toBe('committed');

    // The child carries the real insert's times: those of the store's own INSERT span under the flush.
    const storeInsert = await waitForSpan('the store INSERT under the flush', childOf(flush, `INSERT ${table}`));
    expect(ms(insert.startTime)).toBeLessThanOrEqual(ms(storeInsert.startTime) + 1);
    expect(ms(insert.endTime)).toBeGreaterThanOrEqual(ms(storeInsert.endTime) - 1);
    expect(ms(insert.startTime)).toBeGreaterThanOrEqual(ms(flush.startTime) - 1);
    expect(ms(insert.endTime)).toBeLessThanOrEqual(ms(flush.endTime) + 1);
    // The record span ends once its row is durable.
    expect(ms(record.endTime)).toBeGreaterThanOrEqual(ms(insert.endTime) - 1);
  });

  it('records without a traceparent or with a garbage one are still stored, each under a new root span', async () => {
    const accountId = randomUUID();
    const [out, inn] = transferPair({ from: accountId, to: randomUUID(), amount: '1.00', occurredAt: at('2025-06-02T00:00:00Z', 0) });
    const plain = await send(JSON.stringify(out), { eventType: out.eventType }, accountId);
    const garbage = await send(JSON.stringify({ ...inn, accountId }), { eventType: inn.eventType, traceparent: '00-zz-not-a-trace-01' }, accountId);

    for (const offset of [plain, garbage]) {
      const record = await waitForSpan(`the record span at offset ${offset}`, processSpanAt(offset));
      expect(record.parentSpanContext).toBeUndefined();
      expect(record.attributes['analytics.outcome']).toBe('inserted');
      await waitForSpan(`the INSERT child at offset ${offset}`, childOf(record, `INSERT ${table}`));
    }
    const history = await client.getOperations({ accountId, pageSize: 10 });
    expect(history.operations.map((op) => op.id).sort()).toEqual([out.eventId, inn.eventId].sort());
  });

  it('a dead-lettered record ends its span with ERROR and the reason; its log line and its DLQ record carry the trace on', async () => {
    const traceId = hex(16);
    const offset = await send('{"eventId": "not json', { eventType: 'topup', traceparent: `00-${traceId}-${hex(8)}-01` });

    const record = await waitForSpan('the rejected record span', processSpanAt(offset));
    expect(record.spanContext().traceId).toBe(traceId);
    expect(record.status.code).toBe(SpanStatusCode.ERROR);
    expect(record.attributes).toMatchObject({ 'analytics.outcome': 'dead_lettered', 'error.type': 'unparsable' });
    const sendSpan = await waitForSpan('the dead-letter send span', childOf(record, `send ${dlqTopic}`));
    expect(sendSpan.kind).toBe(SpanKind.PRODUCER);

    const logged = logLines.find((line) => line.msg === 'rejected event parked in the dead-letter topic' && line.offset === String(offset));
    expect(logged).toMatchObject({ trace_id: traceId, span_id: record.spanContext().spanId, reason: 'unparsable' });

    const [parked] = await readTopic(dlqTopic, 1);
    expect(parked?.headers.get('sourceOffset')).toBe(String(offset));
    expect(parked?.headers.get('traceparent')).toBe(`00-${traceId}-${sendSpan.spanContext().spanId}-01`);
  });

  it('history and summary reads are ClickHouse SELECT spans under the gRPC call, without parameter values', async () => {
    const accountId = randomUUID();
    const caller = await withSpan('test.caller', {}, async (span) => {
      await client.getOperations({ accountId, pageSize: 10 });
      await client.getAccountSummary({ accountId, fromTime: new Date('2025-06-01T00:00:00Z'), toTime: new Date('2025-06-03T00:00:00Z') });
      return span.spanContext();
    });
    for (const query of ['history_page', 'account_summary']) {
      const select = await waitForSpan(`the ${query} span`, (span) => span.name === `SELECT ${table}` && span.attributes['analytics.store.query'] === query && span.spanContext().traceId === caller.traceId);
      expect(select.kind).toBe(SpanKind.CLIENT);
      expect(select.attributes).toMatchObject({ 'db.system.name': 'clickhouse', 'db.operation.name': 'SELECT', 'db.collection.name': table });
      const server = spans().find((span) => span.spanContext().spanId === select.parentSpanContext?.spanId);
      expect(server?.kind).toBe(SpanKind.SERVER);
      expect(JSON.stringify(select.attributes)).not.toContain(accountId);
    }
  });

  it('no span attribute holds a row value: amounts, descriptions, card digits, account ids', async () => {
    const accountId = randomUUID();
    const [out] = transferPair({ from: accountId, to: randomUUID(), amount: rowValues.amount, occurredAt: at('2025-06-04T00:00:00Z', 0), description: rowValues.description });
    const topUp = topUpEvent({ accountId, amount: rowValues.amount, occurredAt: at('2025-06-04T00:00:00Z', 1) });
    const offsets = [await send(JSON.stringify(out), { eventType: out.eventType }, accountId), await send(JSON.stringify(topUp), { eventType: 'topup' }, accountId)];
    for (const offset of offsets) await waitForSpan(`the record span at offset ${offset}`, processSpanAt(offset));
    await client.getOperations({ accountId, pageSize: 10 });

    const forbidden = [accountId, rowValues.amount, rowValues.description, rowValues.cardLast4];
    const all = spans();
    expect(all.length).toBeGreaterThan(10);
    for (const span of all) {
      for (const [name, value] of Object.entries(span.attributes)) {
        const text = String(value);
        for (const secret of forbidden) expect(text, `${span.name} ${name}`).not.toContain(secret);
        expect(text, `${span.name} ${name}`).not.toBe(rowValues.amountMinor);
      }
      expect(span.status.message ?? '').not.toContain(accountId);
    }
  });
});
