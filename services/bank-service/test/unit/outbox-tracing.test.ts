// The relay's span helpers without Kafka or a database: producer spans join the
// stored request context (or start a trace of their own), link to the cycle,
// and their traceparent is added to the record headers without losing any.
import { getTracer, InMemorySpanExporter, ROOT_CONTEXT, SpanKind, startTracing, trace, type TracingHandle } from '@wallet/platform/tracing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { endProducerSpans, recordHeaders, startProducerSpans, untracedContext } from '../../src/outbox/tracing.js';

const exporter = new InMemorySpanExporter();
let tracing: TracingHandle;

beforeAll(() => {
  tracing = startTracing('bank-service-unit', {}, { exporter, simpleProcessor: true });
});
afterAll(async () => {
  await tracing.shutdown();
});
beforeEach(() => exporter.reset());

const REQUEST_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const REQUEST_SPAN_ID = '00f067aa0ba902b7';

describe('outbox relay spans', () => {
  it("parents a producer span on the row's stored traceparent and links it to the cycle", () => {
    const cycle = getTracer().startSpan('outbox.relay', {}, ROOT_CONTEXT);
    const [span] = startProducerSpans([{ event_type: 'transfer_out', trace_context: `00-${REQUEST_TRACE_ID}-${REQUEST_SPAN_ID}-01` }], 'wallet.operations', cycle);
    endProducerSpans([span!]);
    cycle.end();
    const producer = exporter.getFinishedSpans().find((s) => s.name === 'send wallet.operations')!;
    expect(producer.kind).toBe(SpanKind.PRODUCER);
    expect(producer.spanContext().traceId).toBe(REQUEST_TRACE_ID);
    expect(producer.parentSpanContext?.spanId).toBe(REQUEST_SPAN_ID);
    expect(producer.links.map((l) => l.context.spanId)).toEqual([cycle.spanContext().spanId]);
    expect(producer.attributes).toMatchObject({ 'messaging.system': 'kafka', 'messaging.destination.name': 'wallet.operations', 'messaging.operation.type': 'send' });
  });

  it('starts a trace of its own for a row without a stored context (written before tracing), or with a malformed one', () => {
    const cycle = getTracer().startSpan('outbox.relay', {}, ROOT_CONTEXT);
    const spans = startProducerSpans(
      [
        { event_type: 'topup', trace_context: null },
        { event_type: 'topup', trace_context: 'not-a-traceparent' },
      ],
      'wallet.operations',
      cycle,
    );
    endProducerSpans(spans);
    cycle.end();
    for (const span of exporter.getFinishedSpans().filter((s) => s.name === 'send wallet.operations')) {
      expect(span.parentSpanContext).toBeUndefined();
      expect(trace.isSpanContextValid(span.spanContext())).toBe(true);
    }
  });

  it("adds the producer span's traceparent to the record headers and keeps the existing ones", () => {
    const span = getTracer().startSpan('send wallet.operations', {}, ROOT_CONTEXT);
    const headers = recordHeaders({ eventType: 'transfer_in' }, span);
    span.end();
    const { traceId, spanId } = span.spanContext();
    expect(headers).toEqual({ eventType: 'transfer_in', traceparent: `00-${traceId}-${spanId}-01` });
  });

  it("marks every span of a failed send with the error's type, never its message", () => {
    const cycle = getTracer().startSpan('outbox.relay', {}, ROOT_CONTEXT);
    const spans = startProducerSpans([{ event_type: 'topup', trace_context: null }], 'wallet.operations', cycle);
    class BrokerDown extends Error {}
    endProducerSpans(spans, new BrokerDown('broker said: secret-looking text'));
    const [failed] = exporter.getFinishedSpans();
    expect(failed!.attributes['error.type']).toBe('BrokerDown');
    expect(failed!.status.message ?? '').not.toContain('secret-looking');
  });

  it('records nothing in the untraced context of an idle relay poll', () => {
    getTracer().startSpan('SELECT bank.outbox', {}, untracedContext()).end();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});
