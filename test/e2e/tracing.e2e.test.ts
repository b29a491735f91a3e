// One REST transfer is one trace (issue 12): the real system (every service a
// process, OTEL_* pointing at an in-process OTLP receiver) takes an
// authenticated transfer, and the exported spans must form the trace shape of
// the observability design: gateway SERVER -> gateway CLIENT -> bank SERVER ->
// transfer.enqueue; the group-commit batch linking the request, with its
// PostgreSQL spans; per outbox event a PRODUCER (child of the request, linking
// the relay cycle) -> analytics CONSUMER (child of the producer) -> ClickHouse
// INSERT (child of the consumer, linking the flush). A card top-up likewise
// across the card adapter's saga, the payment gateway mock and the bank.
// Log lines carry the trace id; the public edge does not adopt a caller's
// traceparent; no span holds a token, a password or the card number.
// Each check is named: a failure lists every part of the shape that is missing.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type FlatSpan, type OtlpReceiver } from '../../scripts/lib/otlp-receiver.mjs';
import { formatTrace, traceIdsFor } from '../../scripts/lib/trace-tree.mjs';
import { ACCOUNT_A, ACCOUNT_B, ALICE, http, secretsInText, startSystem, type RunningSystem } from './harness.js';

/** How long the whole pipeline (batch export every 200 ms, relay, Kafka, ClickHouse flush) may take. */
const PIPELINE_TIMEOUT_MS = 60_000;
/** A test's bound: the pipeline wait, the request and the report. */
const TEST_TIMEOUT_MS = PIPELINE_TIMEOUT_MS + 30_000;
const TEST_CARD = '4242424242424242';

type Check = [name: string, ok: boolean];

/** Span lookups over everything the receiver holds. */
function index(spans: FlatSpan[]) {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const isUnder = (span: FlatSpan | undefined, ancestor: FlatSpan | undefined): boolean => {
    if (!span || !ancestor) return false;
    let current: FlatSpan | undefined = span;
    for (let depth = 0; current && depth < 64; depth += 1) {
      if (current.parentSpanId === ancestor.spanId) return true;
      current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined;
    }
    return false;
  };
  const linksTo = (span: FlatSpan, target: FlatSpan | undefined) => Boolean(target) && span.links.some((l) => l.spanId === target!.spanId);
  return { byId, isUnder, linksTo };
}

/** The named checks of one transfer's trace; every one must hold. */
function transferChecks(all: FlatSpan[], traceId: string, requestId: string, topic: string): Check[] {
  const { byId, isUnder, linksTo } = index(all);
  const trace = all.filter((s) => s.traceId === traceId);
  const gwServer = trace.find((s) => s.service === 'api-gateway' && s.kind === 'SERVER' && /^POST \/.*transfers$/.test(s.name));
  const gwClient = trace.find((s) => s.service === 'api-gateway' && s.kind === 'CLIENT' && s.name === 'wallet.bank.v1.BankService/TransferMoney');
  const bankServer = trace.find((s) => s.service === 'bank-service' && s.kind === 'SERVER' && s.name === 'wallet.bank.v1.BankService/TransferMoney');
  const enqueue = trace.find((s) => s.service === 'bank-service' && s.name === 'transfer.enqueue');
  const batch = all.find((s) => s.name === 'transfer.batch' && (linksTo(s, enqueue) || linksTo(s, bankServer)));
  const batchDb = all.filter((s) => s.attributes['db.system.name'] === 'postgresql' && isUnder(s, batch));
  const producers = trace.filter((s) => s.kind === 'PRODUCER' && s.name === `send ${topic}`);
  const consumers = trace.filter((s) => s.kind === 'CONSUMER' && s.name === `process ${topic}` && producers.some((p) => s.parentSpanId === p.spanId));
  const inserts = trace.filter((s) => s.attributes['db.system.name'] === 'clickhouse' && /^INSERT\b/.test(s.name) && consumers.some((c) => s.parentSpanId === c.spanId));
  return [
    ['gateway SERVER span POST <transfers route> (http.route, status 201, wallet.request_id = X-Request-Id)',
      Boolean(gwServer && gwServer.attributes['http.route'] && gwServer.attributes['http.response.status_code'] === 201 && gwServer.attributes['wallet.request_id'] === requestId)],
    ['gateway CLIENT span wallet.bank.v1.BankService/TransferMoney under the gateway SERVER span', isUnder(gwClient, gwServer)],
    ['bank SERVER span wallet.bank.v1.BankService/TransferMoney, child of the gateway CLIENT span', Boolean(bankServer && gwClient && bankServer.parentSpanId === gwClient.spanId)],
    ['bank INTERNAL span transfer.enqueue under the bank SERVER span', isUnder(enqueue, bankServer)],
    ['transfer.batch span linking the request, with transfer.batch.size >= 1', Boolean(batch && Number(batch.attributes['transfer.batch.size']) >= 1)],
    ['PostgreSQL spans (db.system.name=postgresql) and db.transaction under transfer.batch',
      batchDb.length > 0 && all.some((s) => s.name === 'db.transaction' && isUnder(s, batch))],
    ['no PostgreSQL span holds a parameter value (db.query.parameter.*)', !all.some((s) => Object.keys(s.attributes).some((k) => k.startsWith('db.query.parameter')))],
    [`two PRODUCER spans "send ${topic}" under the bank request span (messaging.system=kafka)`,
      producers.length === 2 && producers.every((p) => isUnder(p, bankServer) && p.attributes['messaging.system'] === 'kafka' && p.attributes['messaging.destination.name'] === topic)],
    ['each PRODUCER span links to an outbox.relay span', producers.length > 0 && producers.every((p) => p.links.some((l) => byId.get(l.spanId)?.name === 'outbox.relay'))],
    [`two CONSUMER spans "process ${topic}" (analytics-service), each a child of a PRODUCER span`,
      consumers.length === 2 && consumers.every((c) => c.service === 'analytics-service')],
    ['two ClickHouse INSERT spans (db.system.name=clickhouse), each a child of a CONSUMER span, linking to analytics.flush',
      inserts.length === 2 && inserts.every((i) => i.links.some((l) => byId.get(l.spanId)?.name === 'analytics.flush'))],
    ['every consume span ends after its INSERT span (ends when the row is durable)',
      inserts.length > 0 && inserts.every((i) => BigInt(byId.get(i.parentSpanId!)!.endTimeUnixNano) >= BigInt(i.endTimeUnixNano))],
  ];
}

/** The named checks of one top-up's trace. */
function topUpChecks(all: FlatSpan[], traceId: string, topic: string): Check[] {
  const { isUnder } = index(all);
  const trace = all.filter((s) => s.traceId === traceId);
  const named = (service: string, kind: string, name: string) => trace.find((s) => s.service === service && s.kind === kind && s.name === name);
  const gwServer = trace.find((s) => s.service === 'api-gateway' && s.kind === 'SERVER' && /^POST \/.*topup$/.test(s.name));
  const rpc = 'wallet.cardadapter.v1.BankCardAdapterService/ProcessCardTopUp';
  const gwClient = named('api-gateway', 'CLIENT', rpc);
  const adapterServer = named('bank-card-adapter', 'SERVER', rpc);
  const charge = trace.find((s) => s.service === 'bank-card-adapter' && s.name === 'top_up.charge');
  const deposit = trace.find((s) => s.service === 'bank-card-adapter' && s.name === 'top_up.deposit');
  const pgClient = trace.find((s) => s.service === 'bank-card-adapter' && s.kind === 'CLIENT' && s.attributes['http.request.method'] !== undefined && isUnder(s, charge));
  const mockServer = trace.find((s) => s.service === 'payment-gateway-mock' && s.kind === 'SERVER');
  const bankClient = named('bank-card-adapter', 'CLIENT', 'wallet.bank.v1.BankService/DepositMoney');
  const bankServer = named('bank-service', 'SERVER', 'wallet.bank.v1.BankService/DepositMoney');
  const producer = trace.find((s) => s.kind === 'PRODUCER' && s.name === `send ${topic}`);
  const consumer = trace.find((s) => s.kind === 'CONSUMER' && s.parentSpanId === producer?.spanId);
  return [
    ['gateway SERVER span POST <topup route>', Boolean(gwServer)],
    [`gateway CLIENT span ${rpc} under it`, isUnder(gwClient, gwServer)],
    [`card adapter SERVER span ${rpc}, child of the gateway CLIENT span`, Boolean(adapterServer && gwClient && adapterServer.parentSpanId === gwClient.spanId)],
    ['saga step spans top_up.charge and top_up.deposit under the card adapter SERVER span', isUnder(charge, adapterServer) && isUnder(deposit, adapterServer)],
    ['payment gateway CLIENT span (http.request.method) under top_up.charge', Boolean(pgClient)],
    ['payment gateway mock SERVER span, child of that CLIENT span', Boolean(mockServer && pgClient && mockServer.parentSpanId === pgClient.spanId)],
    ['bank CLIENT span DepositMoney under top_up.deposit, and the bank SERVER span its child',
      isUnder(bankClient, deposit) && Boolean(bankServer && bankClient && bankServer.parentSpanId === bankClient.spanId)],
    ['the deposit event produced and consumed in the same trace', Boolean(producer && consumer)],
  ];
}

const failed = (checks: Check[]) => checks.filter(([, ok]) => !ok).map(([name]) => name);

describe('one request, one trace (OpenTelemetry, in-process OTLP receiver)', () => {
  let receiver: OtlpReceiver;
  let system: RunningSystem;
  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    system = await startSystem({
      analytics: true,
      cardAdapter: true,
      // Exported every 200 ms (default 5 s): the test waits on the spans, not on a timer.
      otel: { endpoint: receiver.url, protocol: 'http/protobuf', env: { OTEL_BSP_SCHEDULE_DELAY: '200' } },
    });
  });
  afterAll(async () => {
    await system?.stop();
    await receiver?.close();
  });

  /** The service log files with a line carrying this trace id (pino mixin: "trace_id"). */
  const logsCarrying = (traceId: string) =>
    readdirSync(system.logDir).filter((file) => readFileSync(join(system.logDir, file), 'utf8').includes(`"trace_id":"${traceId}"`));

  /** Waits until every check holds (or the deadline), then reports the ones that do not, with the trace as a tree. */
  async function expectShape(traceIdOf: () => string | undefined, checksOf: (traceId: string) => Check[]) {
    let missing: string[] = ['the trace itself (no span carries the request id or trace id)'];
    await waitFor(
      async () => {
        const traceId = traceIdOf();
        if (traceId) missing = failed(checksOf(traceId));
        return missing.length === 0;
      },
      { what: 'the trace shape', timeoutMs: PIPELINE_TIMEOUT_MS, intervalMs: 250 },
    ).catch(() => {});
    const traceId = traceIdOf();
    const tree = traceId ? formatTrace(receiver.spans.filter((s) => s.traceId === traceId)).join('\n') : '(no trace)';
    // What did arrive at all (service: span names), for a failure's report.
    const seen = new Map<string, Set<string>>();
    for (const s of receiver.spans) (seen.get(s.service) ?? seen.set(s.service, new Set()).get(s.service)!).add(`${s.kind} ${s.name}`);
    const summary = [...seen].map(([service, names]) => `${service}: ${[...names].slice(0, 15).join(', ')}`).join('\n');
    expect(missing, `missing from the trace:\n${tree}\nspans received, by service:\n${summary}`).toEqual([]);
  }

  it('follows one authenticated REST transfer from the gateway to both ClickHouse inserts, and its log lines carry the trace id', async () => {
    const res = await http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/transfers`, {
      body: { recipientAccountId: ACCOUNT_B, amount: '1.25', description: 'traced' },
      headers: { 'Idempotency-Key': randomUUID(), ...(await system.as(ALICE)) },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const requestId = res.headers.get('x-request-id') ?? '';
    expect(requestId).not.toBe('');
    const headerTraceId = res.headers.get('x-trace-id');
    const traceIdOf = () => headerTraceId ?? traceIdsFor(receiver.spans, requestId)[0];
    await expectShape(traceIdOf, (traceId) => transferChecks(receiver.spans, traceId, requestId, system.topic));
    expect(headerTraceId, 'the response carries X-Trace-Id (the trace id of its SERVER span)').toMatch(/^[0-9a-f]{32}$/);

    // The gateway's access line is the transfer's one info line (the bank logs no line per transfer).
    expect(logsCarrying(traceIdOf()!), 'service logs whose lines carry the trace id').toEqual(expect.arrayContaining(['api-gateway.log']));
  }, TEST_TIMEOUT_MS);

  it('follows one card top-up through the card adapter saga, the payment gateway mock and the bank in one trace', async () => {
    const res = await http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/topup`, {
      body: { amount: '3.00', card: { number: TEST_CARD, expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3, cvc: '123', holderName: 'Ada Lovelace' } },
      headers: { 'Idempotency-Key': randomUUID(), ...(await system.as(ALICE)) },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const requestId = res.headers.get('x-request-id') ?? '';
    const traceIdOf = () => res.headers.get('x-trace-id') ?? traceIdsFor(receiver.spans, requestId)[0];
    await expectShape(traceIdOf, (traceId) => topUpChecks(receiver.spans, traceId, system.topic));
    // Two processes, one trace id: the card adapter's lines got it through the gRPC metadata.
    expect(logsCarrying(traceIdOf()!), 'service logs whose lines carry the trace id').toEqual(expect.arrayContaining(['api-gateway.log', 'bank-card-adapter.log']));
  }, TEST_TIMEOUT_MS);

  it('does not adopt a caller\'s traceparent at the public edge: a new trace that links to it', async () => {
    const callerTraceId = randomBytes(16).toString('hex');
    const callerSpanId = randomBytes(8).toString('hex');
    const res = await http(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/balance`, {
      headers: { traceparent: `00-${callerTraceId}-${callerSpanId}-01`, ...(await system.as(ALICE)) },
    });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id') ?? '';
    let server: FlatSpan | undefined;
    await waitFor(
      async () => {
        server = receiver.spans.find((s) => s.service === 'api-gateway' && s.kind === 'SERVER' && s.attributes['wallet.request_id'] === requestId);
        return Boolean(server);
      },
      { what: 'the gateway SERVER span of the balance request', timeoutMs: 20_000, intervalMs: 200 },
    ).catch(() => {});
    expect(server, 'a gateway SERVER span carrying wallet.request_id').toBeDefined();
    expect(server!.traceId).not.toBe(callerTraceId);
    expect(server!.parentSpanId).toBeNull();
    expect(server!.links).toEqual(expect.arrayContaining([expect.objectContaining({ traceId: callerTraceId, spanId: callerSpanId })]));
  });

  it('exported no token, password or card number in any span attribute, event or status', () => {
    expect(receiver.spans.length).toBeGreaterThan(0);
    const text = receiver.spans.map((s) => JSON.stringify(s)).join('\n');
    expect(secretsInText('spans', text)).toEqual([]);
    for (const form of [TEST_CARD, '4242 4242 4242 4242', '4242-4242-4242-4242']) expect(text.includes(form), `card number form ${form.slice(0, 4)}…`).toBe(false);
    expect(/(cvc|cvv)\\?"?\s*[:=]\s*\\?"?123\b/i.test(text), 'a CVC next to its name').toBe(false);
    expect(/bearer\s+[\w-]+\.[\w-]+\.[\w-]+/i.test(text), 'a bearer token').toBe(false);
  });
});
