// The Fastify plugin on a real Fastify instance (requests via inject).
import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@wallet/platform';
import { httpServerObservability } from '@wallet/platform/http';
import { InMemorySpanExporter, SpanKind, SpanStatusCode, startTracing, withSpan, type ReadableSpan, type TracingHandle } from '@wallet/platform/tracing';

const exporter = new InMemorySpanExporter();
const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
let tracing: TracingHandle;
const logLines: Array<Record<string, unknown>> = [];
let requestsSeen = 0;

/** POSTs a body in two chunks, the second only once the server has started the request (as a slow client would). */
async function postInTwoChunks(url: string, first: string, second: string): Promise<number> {
  const before = requestsSeen;
  return new Promise<number>((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
    request.write(first);
    const deadline = Date.now() + 5000;
    const poll = (): void => {
      if (requestsSeen > before) request.end(second);
      else if (Date.now() > deadline) reject(new Error('server never saw the request'));
      else setTimeout(poll, 10);
    };
    poll();
  });
}

function logStream(): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
}

async function buildApp(edge: boolean, registry: Registry) {
  const app = Fastify({ loggerInstance: createLogger('http-test', 'info', {}, logStream()) });
  httpServerObservability(app, { registry, edge });
  app.addHook('onRequest', async () => {
    requestsSeen += 1;
  });
  app.get('/accounts/:accountId', async (request) => {
    request.log.info('in handler');
    return { ok: true };
  });
  app.post('/transfers', async () => withSpan('transfer.call', {}, () => ({ accepted: true })));
  app.get('/boom', async () => {
    throw new Error('database password=hunter2 leaked in message');
  });
  await app.ready();
  return app;
}

const internalRegistry = new Registry();
const edgeRegistry = new Registry();
let internal: Awaited<ReturnType<typeof buildApp>>;
let edge: Awaited<ReturnType<typeof buildApp>>;

beforeAll(async () => {
  tracing = startTracing('http-test', {}, { exporter, simpleProcessor: true });
  internal = await buildApp(false, internalRegistry);
  edge = await buildApp(true, edgeRegistry);
});

afterEach(() => {
  exporter.reset();
  logLines.length = 0;
});

afterAll(async () => {
  await internal?.close();
  await edge?.close();
  await tracing?.shutdown();
});

function serverSpan(): ReadableSpan {
  const spans = exporter.getFinishedSpans().filter((span) => span.kind === SpanKind.SERVER);
  expect(spans).toHaveLength(1);
  return spans[0]!;
}

async function count(registry: Registry, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === 'http_server_request_duration_seconds');
  const sample = metric?.values.find(
    (value) =>
      (value as { metricName?: string }).metricName === 'http_server_request_duration_seconds_count' &&
      Object.entries(labels).every(([key, expected]) => value.labels[key] === expected),
  );
  return sample?.value ?? 0;
}

describe('httpServerObservability', () => {
  it('a SERVER span "<METHOD> <route template>", X-Trace-Id, no query string anywhere, histogram by template', async () => {
    const response = await internal.inject({ method: 'GET', url: '/accounts/acc-1?access_token=secret-token-xyz' });
    expect(response.statusCode).toBe(200);
    const span = serverSpan();
    expect(span.name).toBe('GET /accounts/:accountId');
    expect(span.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/accounts/:accountId', 'http.response.status_code': 200 });
    expect(response.headers['x-trace-id']).toBe(span.spanContext().traceId);
    expect(JSON.stringify([span.attributes, span.events, span.links])).not.toContain('secret-token-xyz');
    expect(await count(internalRegistry, { method: 'GET', route: '/accounts/:accountId', status_code: '200' })).toBe(1);
  });

  it('inside the system, the incoming traceparent is the parent', async () => {
    await internal.inject({ method: 'GET', url: '/accounts/a', headers: { traceparent: TRACEPARENT } });
    const span = serverSpan();
    expect(span.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });

  it('at the edge, an incoming traceparent is not trusted: a new root span with a link to it', async () => {
    const response = await edge.inject({ method: 'GET', url: '/accounts/a', headers: { traceparent: TRACEPARENT } });
    const span = serverSpan();
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span.links.map((link) => link.context.spanId)).toEqual(['b7ad6b7169203331']);
    expect(response.headers['x-trace-id']).toBe(span.spanContext().traceId);
  });

  it('a handler after body parsing still runs in the request span: its spans are children (real socket)', async () => {
    // Over a socket the body arrives in later events, outside the onRequest hook's context.
    const address = await internal.listen({ host: '127.0.0.1', port: 0 });
    expect(await postInTwoChunks(`${address}/transfers`, '{"amount":', '"1.00"}')).toBe(200);
    const request = serverSpan();
    const child = exporter.getFinishedSpans().find((span) => span.name === 'transfer.call');
    expect(child?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
  });

  it('request.log lines carry trace_id and span_id of the request span, once', async () => {
    const response = await internal.inject({ method: 'GET', url: '/accounts/a' });
    const line = logLines.find((entry) => entry.msg === 'in handler');
    expect(line).toMatchObject({ trace_id: response.headers['x-trace-id'], span_id: serverSpan().spanContext().spanId });
  });

  it('a request no route matched: span "GET", route label "unmatched"', async () => {
    const response = await internal.inject({ method: 'GET', url: '/nowhere/secret-path?x=1' });
    expect(response.statusCode).toBe(404);
    const span = serverSpan();
    expect(span.name).toBe('GET');
    expect(span.attributes['http.route']).toBeUndefined();
    expect(await count(internalRegistry, { route: 'unmatched', status_code: '404' })).toBe(1);
  });

  it('a 5xx: status ERROR, error.type = status code, no error message on the span', async () => {
    const response = await internal.inject({ method: 'GET', url: '/boom' });
    expect(response.statusCode).toBe(500);
    const span = serverSpan();
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span.attributes['error.type']).toBe('500');
    expect(JSON.stringify([span.attributes, span.events, span.status])).not.toContain('hunter2');
  });
});
