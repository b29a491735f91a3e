import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { bindTraceIds, ConfigError, createLogger, readsBoundTraceIds } from '@wallet/platform';
import { pino } from 'pino';
import {
  context,
  contextFromTraceparent,
  currentTraceparent,
  extractTraceContext,
  InMemorySpanExporter,
  injectTraceHeaders,
  loadTracingConfig,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  startTracing,
  trace,
  withSpan,
  untracedContext,
  type TracingHandle,
} from '@wallet/platform/tracing';
import { startOtlpSink, waitFor } from '../support/otlp-sink.js';

let handle: TracingHandle | undefined;

afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

function startInMemory(env: NodeJS.ProcessEnv = {}): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  handle = startTracing('test-service', env, { exporter, simpleProcessor: true });
  return exporter;
}

function configProblem(env: NodeJS.ProcessEnv): string {
  try {
    loadTracingConfig('svc', env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
}

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('loadTracingConfig', () => {
  it('defaults: no endpoint (no export), parentbased_always_on, http/protobuf, attribute values cut at 1024', () => {
    const config = loadTracingConfig('bank-service', {});
    expect(config).toMatchObject({
      serviceName: 'bank-service',
      tracesUrl: null,
      sampler: 'parentbased_always_on',
      protocol: 'http/protobuf',
      attributeValueLengthMax: 1024,
      batch: { queueSizeMax: 2048, exportBatchSizeMax: 512 },
    });
  });

  it('appends /v1/traces to the generic endpoint and takes the traces endpoint as is', () => {
    expect(loadTracingConfig('s', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracesUrl).toBe(
      'http://collector:4318/v1/traces',
    );
    expect(
      loadTracingConfig('s', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/custom',
      }).tracesUrl,
    ).toBe('https://traces.example/custom');
  });

  it('takes OTEL_SERVICE_NAME, then service.name of OTEL_RESOURCE_ATTRIBUTES, then the service', () => {
    const attributes = { OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attrs,deployment.environment=dev%20one' };
    expect(loadTracingConfig('svc', attributes)).toMatchObject({
      serviceName: 'from-attrs',
      resourceAttributes: { 'deployment.environment': 'dev one' },
    });
    expect(loadTracingConfig('svc', { ...attributes, OTEL_SERVICE_NAME: 'named' }).serviceName).toBe('named');
  });

  it('refuses a bad value naming the variable', () => {
    expect(configProblem({ OTEL_TRACES_SAMPLER: 'sometimes' })).toContain('OTEL_TRACES_SAMPLER: must be one of');
    expect(configProblem({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' })).toContain(
      'OTEL_TRACES_SAMPLER_ARG',
    );
    expect(configProblem({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toContain('OTEL_EXPORTER_OTLP_PROTOCOL');
    expect(configProblem({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(configProblem({ OTEL_SDK_DISABLED: 'yes' })).toContain('OTEL_SDK_DISABLED');
    expect(configProblem({ OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' })).toContain(
      'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
    );
    expect(configProblem({ OTEL_RESOURCE_ATTRIBUTES: 'novalue' })).toContain('OTEL_RESOURCE_ATTRIBUTES');
  });

  it('ignores OTEL_TRACES_SAMPLER_ARG for samplers that take none (as the spec says)', () => {
    expect(loadTracingConfig('s', { OTEL_TRACES_SAMPLER: 'always_on', OTEL_TRACES_SAMPLER_ARG: 'x' }).sampler).toBe('always_on');
  });
});

describe('startTracing without an endpoint', () => {
  it('exports nothing but still makes and propagates trace ids', async () => {
    handle = startTracing('test-service', {});
    expect(handle.exporting).toBe(false);
    const seen = await withSpan('outer', {}, async (outer) => {
      const inner = await withSpan('inner', {}, () => currentTraceparent());
      return { outer: outer.spanContext(), inner, headers: injectTraceHeaders() };
    });
    expect(seen.outer.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(seen.outer.traceId).not.toBe('0'.repeat(32));
    expect(seen.inner).toMatch(new RegExp(`^00-${seen.outer.traceId}-[0-9a-f]{16}-00$`));
    expect(seen.headers.traceparent).toBe(`00-${seen.outer.traceId}-${seen.outer.spanId}-00`);
  });

  it('with OTEL_SDK_DISABLED=true registers nothing: no ids, no propagation, an endpoint ignored', async () => {
    handle = startTracing('test-service', { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
    expect(handle.exporting).toBe(false);
    const seen = await withSpan('outer', {}, (outer) => ({ outer: outer.spanContext(), traceparent: currentTraceparent(), headers: injectTraceHeaders() }));
    expect(seen.outer.traceId).toBe('0'.repeat(32));
    expect(seen.traceparent).toBeNull();
    expect(seen.headers).toEqual({});
  });

  it('is idempotent: a second call returns the first handle', () => {
    handle = startTracing('test-service', {});
    expect(startTracing('other', { OTEL_TRACES_SAMPLER: 'always_on' })).toBe(handle);
  });
});

describe('withSpan', () => {
  it('records nested spans as parent and child, with kind and attributes', async () => {
    const exporter = startInMemory();
    await withSpan('parent', { kind: SpanKind.SERVER }, () =>
      withSpan('child', { attributes: { 'db.system.name': 'postgresql' } }, () => 1),
    );
    const [child, parent] = exporter.getFinishedSpans();
    expect(parent?.name).toBe('parent');
    expect(parent?.kind).toBe(SpanKind.SERVER);
    expect(child?.attributes['db.system.name']).toBe('postgresql');
    expect(child?.spanContext().traceId).toBe(parent?.spanContext().traceId);
    expect(child?.parentSpanContext?.spanId).toBe(parent?.spanContext().spanId);
  });

  it('on throw: status ERROR, error.type = class, no raw message, and rethrows', async () => {
    const exporter = startInMemory();
    class CardDeclined extends Error {
      override name = 'CardDeclined';
    }
    await expect(withSpan('charge', {}, () => Promise.reject(new CardDeclined('card 4242424242424242 declined')))).rejects.toThrow(
      CardDeclined,
    );
    const [span] = exporter.getFinishedSpans();
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(span?.attributes['error.type']).toBe('CardDeclined');
    expect(JSON.stringify({ attributes: span?.attributes, events: span?.events })).not.toContain('4242');
  });

  it('takes an explicit parent context (a stored traceparent) instead of the active span', async () => {
    const exporter = startInMemory();
    await withSpan('unrelated', {}, () => withSpan('relay', { parent: contextFromTraceparent(TRACEPARENT) }, () => undefined));
    const relay = exporter.getFinishedSpans().find((span) => span.name === 'relay');
    expect(relay?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(relay?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });

  it('untracedContext: nothing under it is recorded, not even its queries', async () => {
    const exporter = startInMemory();
    await withSpan('idle.poll', { parent: untracedContext() }, () => withSpan('SELECT bank.outbox', {}, () => undefined));
    await withSpan('real.work', {}, () => undefined);
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['real.work']);
  });

  it('samples per OTEL_TRACES_SAMPLER: traceidratio 0 exports nothing yet ids flow', async () => {
    const exporter = startInMemory({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    const traceparent = await withSpan('dropped', {}, () => currentTraceparent());
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});

describe('propagation helpers', () => {
  it('extractTraceContext reads Buffer values and header names in any case (Kafka headers)', () => {
    const fromMap = extractTraceContext(new Map([['TraceParent', Buffer.from(TRACEPARENT)]]), ROOT_CONTEXT);
    expect(trace.getSpanContext(fromMap)).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', isRemote: true });
    const fromArray = extractTraceContext({ traceparent: [TRACEPARENT] }, ROOT_CONTEXT);
    expect(currentTraceparent(fromArray)).toBe(TRACEPARENT);
  });

  it('a missing or malformed traceparent gives the root context, and no traceparent', () => {
    expect(contextFromTraceparent(null)).toBe(ROOT_CONTEXT);
    expect(contextFromTraceparent('00-zz-garbage')).toBe(ROOT_CONTEXT);
    expect(currentTraceparent(ROOT_CONTEXT)).toBeNull();
    expect(injectTraceHeaders({}, ROOT_CONTEXT)).toEqual({});
  });

  it('works before startTracing: inject/extract round-trip without a registered provider', () => {
    const ctx = contextFromTraceparent(TRACEPARENT);
    expect(injectTraceHeaders({ other: 'x' }, ctx)).toEqual({ other: 'x', traceparent: TRACEPARENT });
  });
});

describe('createLogger trace mixin', () => {
  function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
    const lines: Array<Record<string, unknown>> = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    });
    return { lines, stream };
  }

  it('adds trace_id and span_id of the active span to every line, none outside a span', async () => {
    handle = startTracing('test-service', {});
    const { lines, stream } = capture();
    const logger = createLogger('svc', 'info', { mixin: () => ({ extra: 1 }) }, stream);
    logger.info('outside');
    const ids = await withSpan('work', {}, (span) => {
      logger.info('inside');
      return span.spanContext();
    });
    await waitFor(() => lines.length === 2, 'two log lines');
    expect(lines[0]).not.toHaveProperty('trace_id');
    expect(lines[0]).toMatchObject({ msg: 'outside', extra: 1 });
    expect(lines[1]).toMatchObject({ msg: 'inside', trace_id: ids.traceId, span_id: ids.spanId, extra: 1 });
    expect(context.active()).toBe(ROOT_CONTEXT);
  });

  it('bindTraceIds puts the given ids on every line of that logger object, outside any span, once; other loggers keep the active span', async () => {
    handle = startTracing('test-service', {});
    const { lines, stream } = capture();
    const logger = createLogger('svc', 'info', {}, stream);
    const request = logger.child({ requestId: 'r1' });
    expect(readsBoundTraceIds(request)).toBe(true);
    bindTraceIds(request, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16) });
    request.info('bound');
    logger.info('parent');
    await waitFor(() => lines.length === 2, 'two log lines');
    expect(lines[0]).toMatchObject({ msg: 'bound', requestId: 'r1', trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) });
    expect(lines[1]).not.toHaveProperty('trace_id');
    // A pino logger not made by createLogger has no such mixin: callers make a child instead.
    expect(readsBoundTraceIds(pino())).toBe(false);
  });
});

describe('OTLP export', () => {
  for (const protocol of ['http/json', 'http/protobuf'] as const) {
    it(`exports spans over ${protocol} to <endpoint>/v1/traces and flushes on shutdown`, async () => {
      const sink = await startOtlpSink();
      try {
        handle = startTracing('export-test', {
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_BSP_SCHEDULE_DELAY: '600000',
        });
        expect(handle.exporting).toBe(true);
        await withSpan('exported-span', {}, () => undefined);
        expect(sink.requests).toHaveLength(0); // batched, not yet sent
        await handle.shutdown();
        handle = undefined;
        await waitFor(() => sink.requests.length > 0, 'an export request');
        const [request] = sink.requests;
        expect(request?.path).toBe('/v1/traces');
        expect(request?.headers['content-type']).toContain(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
        expect(request?.body.toString('latin1')).toContain('exported-span');
        expect(request?.body.toString('latin1')).toContain('export-test');
      } finally {
        await sink.close();
      }
    });
  }
});
