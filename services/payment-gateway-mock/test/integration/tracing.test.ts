// The mock's SERVER spans: in-process with spans captured in memory, requests
// over HTTPS (mutual TLS) carrying a caller's traceparent, as the card adapter sends it.
import { randomUUID } from 'node:crypto';
import { createLogger } from '@wallet/platform';
import { InMemorySpanExporter, startTracing, type ReadableSpan, type TracingHandle } from '@wallet/platform/tracing';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { loadMockConfig } from '../../src/config.js';
import { startPaymentGatewayMock, type RunningMock } from '../../src/service.js';
import { call, closeClients, TEST_API_KEY } from '../support/clients.js';
import { dropTestDatabase } from '../support/db.js';

const CALLER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_SPAN_ID = 'b7ad6b7169203331';
const CARD_NUMBER = '4242424242424242';
const CVC = '7319';

let db: TestDatabase;
let exporter: InMemorySpanExporter;
let tracing: TracingHandle;
let mock: RunningMock;
let base: string;

beforeAll(async () => {
  exporter = new InMemorySpanExporter();
  tracing = startTracing('payment-gateway-mock', {}, { exporter, simpleProcessor: true });
  db = await createTestDatabase('payment_gateway_mock_tracing');
  const config = loadMockConfig({
    DATABASE_URL: db.url,
    PAYMENT_GATEWAY_MOCK_HTTP_PORT: '0',
    PAYMENT_GATEWAY_MOCK_OPS_PORT: '0',
    PAYMENT_GATEWAY_MOCK_API_KEY: TEST_API_KEY,
    ...(await testTlsEnv('payment-gateway-mock')),
  });
  mock = await startPaymentGatewayMock(config, createLogger('test', 'silent'));
  base = `https://127.0.0.1:${mock.server.port}`;
});

afterAll(async () => {
  await mock?.stop();
  await closeClients();
  await tracing?.shutdown();
  await dropTestDatabase(db);
});

const serverSpans = (): ReadableSpan[] => exporter.getFinishedSpans().filter((span) => span.kind === 1 /* SpanKind.SERVER */);

function charge(key: string, traceparent?: string) {
  return call(`${base}/v1/charges`, {
    method: 'POST',
    headers: { 'idempotency-key': key, 'content-type': 'application/json', ...(traceparent ? { traceparent } : {}) },
    body: JSON.stringify({ amountMinor: '1000', currency: 'USD', card: { number: CARD_NUMBER, expiryMonth: 12, expiryYear: 2035, cvc: CVC } }),
  });
}

describe('payment gateway mock SERVER spans', () => {
  it("joins the caller's trace: a charge is a SERVER span whose parent is the traceparent's span", async () => {
    const key = `trace-${randomUUID()}`;
    const response = await charge(key, `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`);
    expect(response.status).toBe(200);
    const span = await waitFor(() => serverSpans().find((s) => s.spanContext().traceId === CALLER_TRACE_ID), { what: 'the SERVER span' });
    expect(span.name).toBe('POST /v1/charges');
    expect(span.parentSpanContext?.spanId).toBe(CALLER_SPAN_ID);
    expect(span.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/charges', 'http.response.status_code': 200, 'url.scheme': 'https' });
    // The ledger's queries run inside the request's span.
    const queries = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === CALLER_TRACE_ID && s.parentSpanContext?.spanId === span.spanContext().spanId);
    expect(queries.length).toBeGreaterThan(0);
  });

  it('names routes by template (a charge id is not a span name) and marks an unanswered request', async () => {
    const response = await call(`${base}/v1/charges/ch_${randomUUID().replaceAll('-', '')}/refunds`, { method: 'POST', headers: { 'idempotency-key': randomUUID() } });
    expect(response.status).toBe(404);
    const refund = await waitFor(() => serverSpans().find((s) => s.attributes['http.route'] === '/v1/charges/{chargeId}/refunds'), { what: 'the refund span' });
    expect(refund.name).toBe('POST /v1/charges/{chargeId}/refunds');
    expect(refund.attributes['http.response.status_code']).toBe(404);
    expect(refund.status.code).not.toBe(2 /* ERROR: a 404 is an answer */);

    const unknown = await call(`${base}/v2/nothing`);
    expect(unknown.status).toBe(404);
    expect(serverSpans().some((s) => s.name === 'GET unmatched')).toBe(true);
  });

  it('counts every request in http_server_request_duration_seconds by route template and status code', async () => {
    const text = await (await fetch(`http://127.0.0.1:${mock.ops.port}/metrics`)).text();
    expect(text).toMatch(/http_server_request_duration_seconds_count\{[^}]*method="POST"[^}]*route="\/v1\/charges"[^}]*status_code="200"[^}]*\} [1-9]/);
    expect(text).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/v1\/charges\/\{chargeId\}\/refunds"[^}]*status_code="404"[^}]*\} 1/);
    expect(text).not.toMatch(/route="\/v1\/charges\/ch_/);
  });

  it('no span carries the card number, the CVC or the API key', async () => {
    await charge(`secret-${randomUUID()}`);
    const cvc = new RegExp(`(^|[^0-9])${CVC}([^0-9]|$)`);
    const spans = exporter.getFinishedSpans();
    expect(spans.length).toBeGreaterThan(3);
    for (const span of spans) {
      const text = JSON.stringify([span.name, span.attributes, span.events, span.links, span.status]);
      expect(text).not.toContain(CARD_NUMBER);
      expect(text).not.toContain(TEST_API_KEY);
      expect(cvc.test(text), `${span.name} carries the CVC`).toBe(false);
    }
  });
});
