// The in-process OTLP receiver (scripts/lib/otlp-receiver.mjs) fed by the real
// OpenTelemetry JS OTLP exporters, protobuf and JSON, plain and gzip; its
// bounds (body size, content type) and its rotated JSON-lines files.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import { readSpans, startOtlpReceiver, type OtlpReceiver } from '../lib/otlp-receiver.mjs';

const receivers: OtlpReceiver[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function receiver(options: Parameters<typeof startOtlpReceiver>[0] = {}) {
  const r = await startOtlpReceiver(options);
  receivers.push(r);
  return r;
}

/** Two spans (a SERVER parent and a CLIENT child with an event, a link and an error) through `exporter`. */
async function exportTwoSpans(exporter: SpanExporter) {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'receiver-test' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('otlp-receiver-test');
  const parent = tracer.startSpan('POST /v1/transfers', {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': 'POST', 'http.response.status_code': 201, ok: true, ratio: 0.5, 'http.request.header.x-request-id': ['req-1'] },
  });
  const parentContext = trace.setSpan(ROOT_CONTEXT, parent);
  const child = tracer.startSpan(
    'wallet.bank.v1.BankService/TransferMoney',
    { kind: SpanKind.CLIENT, links: [{ context: parent.spanContext(), attributes: { why: 'test' } }] },
    parentContext,
  );
  child.addEvent('retry', { attempt: 2 });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'bank unavailable' });
  child.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { traceId: parent.spanContext().traceId, parentId: parent.spanContext().spanId, childId: child.spanContext().spanId };
}

describe('startOtlpReceiver (memory)', () => {
  for (const [protocol, make] of [
    ['http/protobuf', (url: string) => new ProtoExporter({ url })],
    ['http/json', (url: string) => new HttpJsonExporter({ url })],
    ['http/protobuf gzip', (url: string) => new ProtoExporter({ url, compression: 'gzip' as never })],
    ['http/json gzip', (url: string) => new HttpJsonExporter({ url, compression: 'gzip' as never })],
  ] as const) {
    it(`receives the SDK exporter's spans over ${protocol}: ids, parent, kind, service, attributes, events, links, status`, async () => {
      const r = await receiver();
      const ids = await exportTwoSpans(make(r.tracesUrl));
      expect(r.spans).toHaveLength(2);
      const child = r.spans.find((s) => s.kind === 'CLIENT')!;
      const parent = r.spans.find((s) => s.kind === 'SERVER')!;
      expect(parent).toMatchObject({
        traceId: ids.traceId,
        spanId: ids.parentId,
        parentSpanId: null,
        name: 'POST /v1/transfers',
        service: 'receiver-test',
        scope: 'otlp-receiver-test',
        status: { code: 'UNSET' },
        attributes: { 'http.request.method': 'POST', 'http.response.status_code': 201, ok: true, ratio: 0.5, 'http.request.header.x-request-id': ['req-1'] },
      });
      expect(parent.durationMs).toBeGreaterThanOrEqual(0);
      expect(BigInt(parent.endTimeUnixNano)).toBeGreaterThanOrEqual(BigInt(parent.startTimeUnixNano));
      expect(child).toMatchObject({
        traceId: ids.traceId,
        spanId: ids.childId,
        parentSpanId: ids.parentId,
        status: { code: 'ERROR', message: 'bank unavailable' },
        events: [{ name: 'retry', attributes: { attempt: 2 } }],
        links: [{ traceId: ids.traceId, spanId: ids.parentId, attributes: { why: 'test' } }],
      });
      expect(r.received).toBe(2);
    });
  }

  it('refuses a body over its bound (413), another content type (415), another path (404), and stays up', async () => {
    const r = await receiver({ bodyBytesMax: 1024 });
    const big = await fetch(r.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(4096) });
    expect(big.status).toBe(413);
    const text = await fetch(r.tracesUrl, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' });
    expect(text.status).toBe(415);
    expect((await fetch(`${r.url}/v1/metrics`, { method: 'POST', body: '{}' })).status).toBe(404);
    const broken = await fetch(r.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from([0xff, 0xff, 0xff]) });
    expect(broken.status).toBe(400);
    const empty = await fetch(r.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(empty.status).toBe(200);
    expect(r.rejected).toBe(3);
  });

  it('keeps at most spansMax spans in memory, dropping the oldest', async () => {
    const r = await receiver({ spansMax: 3 });
    await exportTwoSpans(new ProtoExporter({ url: r.tracesUrl }));
    await exportTwoSpans(new ProtoExporter({ url: r.tracesUrl }));
    expect(r.spans).toHaveLength(3);
    expect(r.dropped).toBe(1);
  });

  it('listens on loopback only', async () => {
    await expect(startOtlpReceiver({ host: '0.0.0.0' })).rejects.toThrow(/loopback/);
  });
});

describe('startOtlpReceiver (files)', () => {
  it('appends JSON lines, rotates at fileBytesMax, keeps filesMax files, and readSpans reads them back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'otlp-receiver-'));
    dirs.push(dir);
    const r = await receiver({ dir, fileBytesMax: 1, filesMax: 2, now: () => new Date('2026-12-02T03:00:00Z') });
    const traceIds: string[] = [];
    for (let i = 0; i < 3; i += 1) traceIds.push((await exportTwoSpans(new ProtoExporter({ url: r.tracesUrl }))).traceId);
    const files = readdirSync(dir).sort();
    expect(files.length).toBe(2);
    expect(files.every((f) => /^spans-2026-12-02-\d{4}\.jsonl$/.test(f))).toBe(true);
    const spans = await readSpans(dir);
    // Each export is one request of one span (SimpleSpanProcessor); six requests, the last two files kept.
    expect(spans).toHaveLength(2);
    expect(spans.every((s) => s.traceId === traceIds[2])).toBe(true);
    expect(r.spans).toEqual([]);
  });
});
