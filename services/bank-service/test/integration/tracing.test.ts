// Traces of the bank (issue #12): one TransferMoney over real gRPC is one trace
// from the caller's span through the SERVER span, the request's wait in the
// group-commit queue and the batch (linked to it) down to its transaction and
// queries; its outbox rows store the request's traceparent, and the relay's
// Kafka record carries a producer span of the same trace. Spans are captured
// in memory (startTracing with a test exporter), PostgreSQL and Kafka are real.
import { randomUUID } from 'node:crypto';
import { callUnary } from '@wallet/platform';
import {
  currentTraceparent,
  InMemorySpanExporter,
  SpanKind,
  SpanStatusCode,
  startTracing,
  withSpan,
  type ReadableSpan,
  type TracingHandle,
} from '@wallet/platform/tracing';
import { createTestDatabase, createTopics, readTopic, uniqueName, waitFor, type TestDatabase } from '@wallet/testkit';
import type { BankServiceClient } from '@wallet/contracts/bank';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBankService, type RunningBankService } from '../../src/app/service.js';
import { KafkaOutboxPublisher } from '../../src/outbox/kafka-publisher.js';
import { OutboxRelay } from '../../src/outbox/relay.js';
import { ADMIN, startTestCallers, type TestCallers } from '../support/callers.js';
import { bankClient, createAccounts, silentLogger, testConfig } from '../support/helpers.js';

const exporter = new InMemorySpanExporter();
let tracing: TracingHandle;
let db: TestDatabase;
let callers: TestCallers;
let admin: { authorization: string };
let service: RunningBankService;
let client: BankServiceClient;
let cardAdapter: BankServiceClient;
let topic: string;
const TIMEOUT_MS = 10_000;
const TRANSFER_RPC = 'wallet.bank.v1.BankService/TransferMoney';
const DEPOSIT_RPC = 'wallet.bank.v1.BankService/DepositMoney';

function brokerList(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value) throw new Error('KAFKA_BROKERS is not set: run tests through `npm test`');
  return value.split(',');
}

beforeAll(async () => {
  // Before the service starts, so its spans reach the exporter as each ends.
  tracing = startTracing('bank-service', {}, { exporter, simpleProcessor: true });
  topic = uniqueName('bank-tracing');
  await createTopics([{ name: topic, partitions: 1 }]);
  db = await createTestDatabase('bank_tracing');
  callers = await startTestCallers();
  admin = await callers.admin();
  // The service's own relay stays off: the test reads the outbox rows first, then relays them itself.
  const env = { ...callers.env, KAFKA_BROKERS: brokerList().join(','), BANK_KAFKA_OPERATIONS_TOPIC: topic, BANK_OUTBOX_RELAY_ENABLED: 'false' };
  service = await startBankService(await testConfig(db.url, env), silentLogger);
  client = await bankClient(service.grpcPort);
  cardAdapter = await bankClient(service.grpcPort, 'bank-card-adapter');
});

afterAll(async () => {
  client?.close();
  cardAdapter?.close();
  await service?.close();
  await callers?.close();
  await db?.drop();
  await tracing?.shutdown();
});

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
/** Every span of the file, also those of earlier tests (the secrets check reads them all). */
const allSpans: ReadableSpan[] = [];
function resetSpans(): void {
  allSpans.push(...exporter.getFinishedSpans());
  exporter.reset();
}
const spanId = (span: ReadableSpan) => span.spanContext().spanId;
const traceId = (span: ReadableSpan) => span.spanContext().traceId;
const childrenOf = (parent: ReadableSpan) => spans().filter((s) => s.parentSpanContext?.spanId === spanId(parent));

function only(list: ReadableSpan[], what: string): ReadableSpan {
  expect(list, what).toHaveLength(1);
  return list[0]!;
}

/** Runs `fn` as a caller would: inside a client span, with its traceparent in the call metadata. */
async function asTracedCaller<T>(fn: (metadata: Record<string, string>) => Promise<T>): Promise<{ result: T; traceId: string; callerSpanId: string }> {
  return withSpan('test.caller', { kind: SpanKind.CLIENT }, async (span) => {
    const result = await fn({ traceparent: currentTraceparent()! });
    return { result, traceId: span.spanContext().traceId, callerSpanId: span.spanContext().spanId };
  });
}

async function outboxTraceContexts(refColumn: 'transferId' | 'depositId', id: string): Promise<Array<string | null>> {
  const { rows } = await service.pool.query<{ trace_context: string | null }>(
    `SELECT trace_context FROM bank.outbox WHERE payload->>'${refColumn}' = $1 ORDER BY id`,
    [id],
  );
  return rows.map((r) => r.trace_context);
}

function newRelay(publisherTopic = topic): { relay: OutboxRelay; publisher: KafkaOutboxPublisher } {
  const publisher = new KafkaOutboxPublisher({ brokers: brokerList(), topic: publisherTopic, clientId: 'bank-tracing-test', requestTimeoutMs: 5_000, logger: silentLogger });
  const relay = new OutboxRelay({ pool: service.pool, publisher, logger: silentLogger, batchSize: 100, pollIntervalMs: 50, publishTimeoutMs: 10_000, backoffBaseMs: 20, backoffMaxMs: 200 });
  return { relay, publisher };
}

/** Secret-ish values a test sent; none may appear in any span attribute, event or status message. */
function spanTexts(): string[] {
  return [...allSpans, ...spans()].flatMap((s) => [
    s.name,
    s.status.message ?? '',
    ...Object.values(s.attributes).map(String),
    ...s.events.flatMap((e) => [e.name, ...Object.values(e.attributes ?? {}).map(String)]),
  ]);
}

describe('tracing of a transfer', () => {
  const idempotencyKey = `trace-key-${randomUUID()}`;
  const description = `trace-description-${randomUUID()}`;
  let transferId: string;
  let requestTraceId: string;
  let accountIds: string[];
  let enqueue: ReadableSpan;

  it('one TransferMoney over gRPC: SERVER span, transfer.enqueue, a linked transfer.batch and its transaction and queries, in one trace', async () => {
    const [from, to] = await createAccounts(service.pool, 2, 100_000n);
    accountIds = [from!, to!];
    resetSpans();
    const call = await asTracedCaller((traceHeaders) =>
      callUnary(
        client,
        client.transferMoney,
        { senderAccountId: from!, recipientAccountId: to!, amount: { amountMinor: 1_234n, currencyCode: 'USD' }, idempotencyKey, description },
        { timeoutMs: TIMEOUT_MS, headers: { ...admin, ...traceHeaders } },
      ),
    );
    transferId = call.result.transfer!.id;
    requestTraceId = call.traceId;

    const server = await waitFor(() => spans().find((s) => s.name === TRANSFER_RPC && s.kind === SpanKind.SERVER), { what: 'the SERVER span' });
    expect(traceId(server)).toBe(call.traceId);
    enqueue = only(childrenOf(server).filter((s) => s.name === 'transfer.enqueue'), 'transfer.enqueue under the SERVER span');
    expect(enqueue.kind).toBe(SpanKind.INTERNAL);

    const batch = only(spans().filter((s) => s.name === 'transfer.batch' && s.links.some((l) => l.context.spanId === spanId(enqueue))), 'the batch linked to the request');
    expect(batch.kind).toBe(SpanKind.INTERNAL);
    expect(batch.attributes['transfer.batch.size']).toBe(1);
    // A lone request's batch is its child: the whole transfer is one trace.
    expect(traceId(batch)).toBe(call.traceId);
    expect(batch.parentSpanContext?.spanId).toBe(spanId(enqueue));

    const transaction = only(childrenOf(batch).filter((s) => s.name === 'db.transaction'), 'the batch transaction');
    const queries = childrenOf(transaction);
    expect(queries.length).toBeGreaterThanOrEqual(2);
    for (const query of queries) {
      expect(query.kind).toBe(SpanKind.CLIENT);
      expect(query.attributes['db.system.name']).toBe('postgresql');
    }
  });

  it("stores the request's traceparent (not the batch's) in each of the transfer's outbox rows", async () => {
    const expected = `00-${requestTraceId}-${spanId(enqueue)}-01`;
    expect(await outboxTraceContexts('transferId', transferId)).toEqual([expected, expected]);
  });

  it("publishes each record in a PRODUCER span of the request's trace, linked to the relay cycle, and carries its traceparent", async () => {
    resetSpans();
    const { relay, publisher } = newRelay();
    let relayed = 0;
    try {
      relayed = await relay.runOnce();
    } finally {
      await publisher.close();
    }
    expect(relayed).toBeGreaterThanOrEqual(2);
    const records = (await readTopic(topic, relayed, 20_000, brokerList())).filter((r) => (JSON.parse(r.value.toString()) as { transferId?: string }).transferId === transferId);
    expect(records).toHaveLength(2);

    const cycle = only(spans().filter((s) => s.name === 'outbox.relay'), 'one relay cycle');
    expect(cycle.parentSpanContext).toBeUndefined();
    const producers = spans().filter((s) => s.name === `send ${topic}` && traceId(s) === requestTraceId);
    expect(producers).toHaveLength(2);
    for (const producer of producers) {
      expect(producer.kind).toBe(SpanKind.PRODUCER);
      expect(producer.parentSpanContext?.spanId).toBe(spanId(enqueue));
      expect(producer.links.map((l) => l.context.spanId)).toEqual([spanId(cycle)]);
      expect(producer.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'messaging.operation.type': 'send' });
    }
    for (const record of records) {
      const traceparent = record.headers.get('traceparent');
      expect(traceparent).toMatch(new RegExp(`^00-${requestTraceId}-[0-9a-f]{16}-01$`));
      // The header names the record's own producer span; the existing header stays.
      expect(producers.map(spanId)).toContain(traceparent!.split('-')[2]);
      expect(['transfer_out', 'transfer_in']).toContain(record.headers.get('eventType'));
    }
    // The cycle's DELETE is its child; nothing of the cycle is a root besides the cycle.
    expect(childrenOf(cycle).map((s) => s.name)).toContain('DELETE bank.outbox');
  });

  it('puts no bearer token and no request or SQL parameter value (idempotency key, description, account ids) into any span', () => {
    const token = admin.authorization.replace(/^Bearer /, '');
    // The transfer's own spans (SERVER, batch, queries) are among those checked, not only the relay's.
    expect(spanTexts()).toEqual(expect.arrayContaining([TRANSFER_RPC, 'transfer.batch', 'db.transaction', `send ${topic}`]));
    for (const text of spanTexts()) {
      for (const secret of [token, idempotencyKey, description, ...accountIds]) expect(text).not.toContain(secret);
    }
  });
});

describe('tracing of a group-commit batch', () => {
  it("links the batch to every request it carries, and each transfer's outbox rows store its own request's traceparent", async () => {
    const accounts = await createAccounts(service.pool, 6, 100_000n);
    resetSpans();
    // Submitted in one tick, so one batch takes them all; each caller in a trace of its own.
    const results = await Promise.all(
      accounts.slice(1).map((recipient, i) =>
        withSpan('test.request', { kind: SpanKind.SERVER }, async (span) => {
          const result = await service.operations.transferMoney(
            { senderAccountId: accounts[0]!, recipientAccountId: recipient, amount: { amountMinor: 10n, currencyCode: 'USD' }, idempotencyKey: `batch-${i}-${randomUUID()}`, description: '' },
            ADMIN,
          );
          return { transferId: result.transfer.id, traceId: span.spanContext().traceId };
        }),
      ),
    );
    const enqueues = spans().filter((s) => s.name === 'transfer.enqueue');
    expect(enqueues).toHaveLength(5);
    const batch = only(spans().filter((s) => s.name === 'transfer.batch'), 'one batch');
    expect(batch.attributes['transfer.batch.size']).toBe(5);
    expect(batch.links.map((l) => l.context.spanId).sort()).toEqual(enqueues.map(spanId).sort());
    for (const { transferId, traceId: requestTrace } of results) {
      const own = only(enqueues.filter((s) => traceId(s) === requestTrace), 'the request’s enqueue span');
      const expected = `00-${requestTrace}-${spanId(own)}-01`;
      expect(await outboxTraceContexts('transferId', transferId)).toEqual([expected, expected]);
    }
  });
});

describe('tracing of a refused transfer', () => {
  it('records a business refusal (insufficient funds) as error.type on transfer.enqueue without marking the span failed', async () => {
    const [from, to] = await createAccounts(service.pool, 2, 100n);
    resetSpans();
    const refused = await service.operations
      .transferMoney({ senderAccountId: from!, recipientAccountId: to!, amount: { amountMinor: 101n, currencyCode: 'USD' }, idempotencyKey: `refused-${randomUUID()}`, description: '' }, ADMIN)
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ reason: 'INSUFFICIENT_FUNDS' });
    const enqueue = only(spans().filter((s) => s.name === 'transfer.enqueue'), 'the refused request’s enqueue span');
    expect(enqueue.attributes['error.type']).toBe('INSUFFICIENT_FUNDS');
    expect(enqueue.status.code).not.toBe(SpanStatusCode.ERROR);
  });
});

describe('tracing of the outbox beyond transfers', () => {
  it("stores a deposit's SERVER span traceparent in its outbox row", async () => {
    const [account] = await createAccounts(service.pool, 1, 0n);
    resetSpans();
    const call = await asTracedCaller((traceHeaders) =>
      callUnary(
        cardAdapter,
        cardAdapter.depositMoney,
        {
          accountId: account!,
          amount: { amountMinor: 500n, currencyCode: 'USD' },
          depositReference: `trace-deposit-${randomUUID()}`,
          topUpId: randomUUID(),
          card: { cardLast4: '4242', cardBrand: 'visa' },
          initiatedBy: '11111111-1111-4111-8111-111111111111',
        },
        { timeoutMs: TIMEOUT_MS, headers: traceHeaders },
      ),
    );
    const server = await waitFor(() => spans().find((s) => s.name === DEPOSIT_RPC && s.kind === SpanKind.SERVER), { what: 'the deposit SERVER span' });
    expect(traceId(server)).toBe(call.traceId);
    expect(await outboxTraceContexts('depositId', call.result.deposit!.id)).toEqual([`00-${call.traceId}-${spanId(server)}-01`]);
  });

  it('still publishes a row written before tracing (NULL trace_context): its producer span starts a trace of its own', async () => {
    const [account] = await createAccounts(service.pool, 1, 0n);
    const eventId = randomUUID();
    await service.pool.query(
      `INSERT INTO bank.outbox (account_id, event_type, payload) VALUES ($1, 'topup', $2)`,
      [account, JSON.stringify({ eventId, accountId: account, eventType: 'topup' })],
    );
    const legacyTopic = uniqueName('bank-tracing-legacy');
    await createTopics([{ name: legacyTopic, partitions: 1 }]);
    resetSpans();
    const { relay, publisher } = newRelay(legacyTopic);
    let relayed = 0;
    try {
      relayed = await relay.runOnce();
    } finally {
      await publisher.close();
    }
    expect(relayed).toBeGreaterThanOrEqual(1);
    const [record] = (await readTopic(legacyTopic, relayed, 20_000, brokerList())).filter((r) => r.value.toString().includes(eventId));
    expect(record).toBeDefined();
    expect(record!.headers.get('eventType')).toBe('topup');
    const producer = only(spans().filter((s) => s.name === `send ${legacyTopic}` && record!.headers.get('traceparent')?.includes(spanId(s))), 'the legacy row producer span');
    expect(producer.parentSpanContext).toBeUndefined();
  });

  it('makes no span for a relay cycle that finds nothing (idle polls every few hundred ms)', async () => {
    const { relay, publisher } = newRelay();
    try {
      await relay.runOnce(); // drains whatever is left
      resetSpans();
      expect(await relay.runOnce()).toBe(0);
    } finally {
      await publisher.close();
    }
    expect(spans()).toEqual([]);
  });
});
