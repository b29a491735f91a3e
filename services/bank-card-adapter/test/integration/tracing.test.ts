// Traces and the journal gauges of the top-up saga: the adapter in-process
// exporting OTLP to an in-process receiver, the payment gateway mock as its own
// process exporting to the same receiver, a fake bank over real gRPC.
import { randomUUID } from 'node:crypto';
import { startTracing, type TracingHandle } from '@wallet/platform/tracing';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type FlatSpan, type OtlpReceiver } from '../../../../scripts/lib/otlp-receiver.mjs';
import { UNFINISHED_SUMMARY_SQL } from '../../src/db/top-ups.js';
import { bearer, closeTestIssuer } from '../support/auth.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { ACCOUNT, startTestAdapter, TEST_PAYMENT_GATEWAY_API_KEY, type TestAdapter } from '../support/harness.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';
import { CARDS } from '../support/test-cards.js';

const ADAPTER_SERVER_SPAN = 'wallet.cardadapter.v1.BankCardAdapterService/ProcessCardTopUp';
const BANK_DEPOSIT_SPAN = 'wallet.bank.v1.BankService/DepositMoney';
/** A CVC that no id, port or duration is likely to contain (Amex: four digits). */
const CVC = '7319';
/** The (made-up) request that journaled the stale top-up of the recovery tests. */
const STALE_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const STALE_SPAN_ID = '00f067aa0ba902b7';

let db: TestDatabase;
let pool: pg.Pool;
let receiver: OtlpReceiver;
let tracing: TracingHandle;
let bank: FakeBank;
let mock: MockGatewayProcess;
let t: TestAdapter;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // Before anything makes a span; small batches, exported at once, so the test waits on spans, not on timers.
  tracing = startTracing('bank-card-adapter', { ...receiver.env('http/json'), OTEL_BSP_SCHEDULE_DELAY: '50' });
  db = await createTestDatabase('card_adapter_tracing');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  bank = await new FakeBank().start();
  mock = await MockGatewayProcess.start(db.url, { ...receiver.env('http/protobuf'), OTEL_BSP_SCHEDULE_DELAY: '50' });
  t = await startTestAdapter({ DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address, CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url });
});

afterAll(async () => {
  await t?.stop();
  await bank?.stop();
  await mock?.stop();
  await tracing?.shutdown();
  await receiver?.close();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

const inTrace = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);

function only(spans: FlatSpan[], match: (span: FlatSpan) => boolean, what: string): FlatSpan {
  const found = spans.filter(match);
  if (found.length !== 1) throw new Error(`expected one ${what}, found ${found.length}: ${spans.map((s) => `${s.service}:${s.kind}:${s.name}`).join(', ')}`);
  return found[0]!;
}

/** Every string an exported span carries besides its ids: attribute values, events, links, status, resource. */
function spanText(span: FlatSpan): string {
  return JSON.stringify([span.name, span.attributes, span.events, span.links.map((link) => link.attributes), span.status, span.resource]);
}

async function metricsText(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${t.adapter.ops.port}/metrics`)).text();
}

function metricValue(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  if (!line) throw new Error(`no ${name}{${labels}} in /metrics`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('top-up traces', () => {
  const authorization = bearer();
  let topUpId: string;
  let traceId: string;

  it('one top-up is one trace: adapter SERVER, saga steps, gateway CLIENT + the mock SERVER, bank CLIENT', async () => {
    const call = await t.topUp({ amount: { amountMinor: 1_234n, currencyCode: 'USD' } }, await authorization);
    expect(call.err).toBeUndefined();
    topUpId = call.ok!.topUp!.id;

    const server = await waitFor(() => receiver.spans.find((s) => s.name === ADAPTER_SERVER_SPAN && s.kind === 'SERVER' && s.service === 'bank-card-adapter'), {
      what: 'the adapter SERVER span',
    });
    traceId = server.traceId!;
    // The mock exports from its own process: wait until its span arrived too.
    await waitFor(() => inTrace(traceId).some((s) => s.service === 'payment-gateway-mock'), { what: "the mock's span", timeoutMs: 20_000 });
    const spans = inTrace(traceId);

    const processSpan = only(spans, (s) => s.name === 'top_up.process', 'top_up.process');
    expect(processSpan.parentSpanId).toBe(server.spanId);
    expect(processSpan.attributes).toMatchObject({ 'top_up.id': topUpId, 'top_up.outcome': 'completed', 'top_up.replayed': false });

    const charge = only(spans, (s) => s.name === 'top_up.charge', 'top_up.charge');
    expect(charge.parentSpanId).toBe(processSpan.spanId);
    expect(charge.attributes).toMatchObject({ 'top_up.id': topUpId, 'top_up.state.from': 'RECEIVED', 'top_up.state.to': 'CHARGED' });
    expect(charge.events.map((e) => [e.attributes['top_up.state.from'], e.attributes['top_up.state.to']])).toEqual([
      ['RECEIVED', 'CHARGING'],
      ['CHARGING', 'CHARGED'],
    ]);
    const deposit = only(spans, (s) => s.name === 'top_up.deposit', 'top_up.deposit');
    expect(deposit.attributes).toMatchObject({ 'top_up.id': topUpId, 'top_up.state.from': 'CHARGED', 'top_up.state.to': 'COMPLETED' });

    const gatewayClientSpan = only(spans, (s) => s.kind === 'CLIENT' && s.name === 'POST /v1/charges', 'payment gateway CLIENT span');
    expect(gatewayClientSpan.parentSpanId).toBe(charge.spanId);
    expect(gatewayClientSpan.attributes).toMatchObject({
      'http.request.method': 'POST',
      'server.address': '127.0.0.1',
      'server.port': mock.port,
      'http.response.status_code': 200,
    });
    const mockServer = only(spans, (s) => s.service === 'payment-gateway-mock' && s.kind === 'SERVER', "the mock's SERVER span");
    expect(mockServer.name).toBe('POST /v1/charges');
    expect(mockServer.parentSpanId).toBe(gatewayClientSpan.spanId);
    expect(mockServer.attributes).toMatchObject({ 'http.route': '/v1/charges', 'http.response.status_code': 200 });

    const bankClient = only(spans, (s) => s.kind === 'CLIENT' && s.name === BANK_DEPOSIT_SPAN, 'bank DepositMoney CLIENT span');
    expect(bankClient.parentSpanId).toBe(deposit.spanId);

    // The journal keeps the request's context (ids only) for whoever finishes the top-up later.
    const { rows } = await pool.query<{ trace_context: string }>('SELECT trace_context FROM card_adapter.top_ups WHERE id = $1', [topUpId]);
    expect(rows[0]?.trace_context).toBe(`00-${traceId}-${processSpan.spanId}-01`);
  });

  it('no span of any service carries the card number, the CVC, the API key or the bearer token', async () => {
    const token = (await authorization).slice('Bearer '.length);
    // An Amex card with a four-digit CVC, so a leak would be recognisable.
    const call = await t.topUp({ card: { number: CARDS.amex, cvc: CVC } }, await authorization);
    expect(call.err).toBeUndefined();
    const server = await waitFor(
      () => receiver.spans.find((s) => s.name === 'top_up.process' && s.attributes['top_up.id'] === call.ok!.topUp!.id),
      { what: 'the second top-up span' },
    );
    await waitFor(() => inTrace(server.traceId!).some((s) => s.service === 'payment-gateway-mock'), { what: "the mock's span", timeoutMs: 20_000 });

    expect(receiver.spans.length).toBeGreaterThan(10);
    const secrets = [CARDS.visa, CARDS.amex, TEST_PAYMENT_GATEWAY_API_KEY, token];
    // The CVC as a number of its own (a port like 47319 is not a leak).
    const cvc = new RegExp(`(^|[^0-9])${CVC}([^0-9]|$)`);
    for (const span of receiver.spans) {
      const text = spanText(span);
      for (const secret of secrets) expect(text.includes(secret), `${span.service} ${span.name} carries a secret`).toBe(false);
      expect(cvc.test(text), `${span.service} ${span.name} carries the CVC`).toBe(false);
      for (const key of Object.keys(span.attributes)) expect(key).not.toMatch(/card\.number|cvc|authorization|api.?key|fingerprint/i);
    }
  });

  it('times every gateway call by operation, and its gRPC server and bank client in the platform RED histograms', async () => {
    const text = await metricsText();
    expect(metricValue(text, 'card_adapter_payment_gateway_duration_seconds_count', 'operation="charge"')).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'grpc_server_handling_seconds_count', 'grpc_method="ProcessCardTopUp"')).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'grpc_client_handling_seconds_count', 'grpc_method="DepositMoney"')).toBeGreaterThanOrEqual(2);
  });

  it('a gateway timeout is a CLIENT span with error.type timeout', async () => {
    const gateway = await gatewayClient(mock.url, 300);
    try {
      const failure = await gateway
        .charge({
          idempotencyKey: `trace-timeout-${randomUUID()}`,
          amountMinor: 100n,
          currency: 'USD',
          card: { number: CARDS.timeout, expiryMonth: 12, expiryYear: 2035, cvc: '123' },
        })
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ kind: 'timeout' });
    } finally {
      await gateway.close();
    }
    const span = await waitFor(() => receiver.spans.find((s) => s.kind === 'CLIENT' && s.name === 'POST /v1/charges' && s.status.code === 'ERROR'), {
      what: 'the timed-out CLIENT span',
    });
    expect(span.attributes['error.type']).toBe('timeout');
    expect(span.attributes['http.response.status_code']).toBeUndefined();
  });
});

describe('recovery traces and the unfinished top-up gauges', () => {
  const staleId = randomUUID();

  it('reports the age of an old unfinished top-up', async () => {
    // A top-up a crashed worker left CHARGING an hour ago (recovery is off in these tests).
    await pool.query(
      `INSERT INTO card_adapter.top_ups (id, account_id, idempotency_key, request_hash, amount_minor, currency, card_last4, card_brand,
                                          initiated_by, trace_context, state, created_at, updated_at, lease_until)
       VALUES ($1, $2, $3, repeat('a', 64), 500, 'USD', '4242', 'visa', 'test', $4, 'CHARGING',
               now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour')`,
      [staleId, ACCOUNT, randomUUID(), `00-${STALE_TRACE_ID}-${STALE_SPAN_ID}-01`],
    );
    const text = await metricsText();
    expect(metricValue(text, 'card_adapter_oldest_unfinished_top_up_age_seconds')).toBeGreaterThanOrEqual(3_600);
    expect(metricValue(text, 'card_adapter_unfinished_top_ups')).toBeGreaterThanOrEqual(1);
  });

  it("the gauges' scrape query can be served by the partial index of unfinished top-ups (cost follows them, not the journal)", async () => {
    const client = await pool.connect();
    try {
      // A tiny test table is cheapest to scan whole; forbid that to see whether the index's predicate matches the query.
      await client.query('SET enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${UNFINISHED_SUMMARY_SQL}`);
      expect(rows.map((row) => row['QUERY PLAN']).join('\n')).toContain('top_ups_unfinished');
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });

  it('a recovery pass is a root span with one top_up.recover child per top-up it takes over', async () => {
    await t.adapter.recovery.runPass();
    const recover = await waitFor(() => receiver.spans.find((s) => s.name === 'top_up.recover' && s.attributes['top_up.id'] === staleId), {
      what: 'the top_up.recover span',
    });
    // The pass span ends after its children: wait for it too.
    await waitFor(() => inTrace(recover.traceId!).some((s) => s.name === 'top_up.recovery_pass'), { what: 'the pass span' });
    const spans = inTrace(recover.traceId!);
    const pass = only(spans, (s) => s.name === 'top_up.recovery_pass', 'top_up.recovery_pass');
    expect(pass.parentSpanId).toBeNull();
    expect(recover.parentSpanId).toBe(pass.spanId);
    expect(recover.attributes['top_up.state.from']).toBe('CHARGING');
    // Its own trace, linked to the request that journaled the top-up.
    expect(recover.links).toEqual([expect.objectContaining({ traceId: STALE_TRACE_ID, spanId: STALE_SPAN_ID })]);
    const step = only(spans, (s) => s.name === 'top_up.charge', 'top_up.charge');
    expect(step.parentSpanId).toBe(recover.spanId);
    expect(step.attributes['top_up.without_card']).toBe(true);
    // Without the card the step can only ask the gateway about the charge's key.
    expect(spans.some((s) => s.kind === 'CLIENT' && s.name === 'GET /v1/charges' && s.parentSpanId === step.spanId)).toBe(true);
  });
});
