import { context, ROOT_CONTEXT, trace, type Context, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

// Our own propagator instance, not the global one: propagation must work even
// where startTracing was never called (scripts, unit tests), so ids still flow.
const w3c = new W3CTraceContextPropagator();

type Carrier = Record<string, unknown> | Map<string, unknown>;

function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  return undefined;
}

/** Reads string, Buffer or arrays of them; keys match case-insensitively (Kafka headers keep their case). */
function lookup(carrier: Carrier, key: string): unknown {
  if (carrier instanceof Map) {
    if (carrier.has(key)) return carrier.get(key);
    for (const [name, value] of carrier) if (name.toLowerCase() === key) return value;
    return undefined;
  }
  if (key in carrier) return carrier[key];
  const name = Object.keys(carrier).find((candidate) => candidate.toLowerCase() === key);
  return name === undefined ? undefined : carrier[name];
}

const getter: TextMapGetter<Carrier> = {
  keys: (carrier) => (carrier instanceof Map ? [...carrier.keys()] : Object.keys(carrier)),
  get: (carrier, key) => {
    const value = lookup(carrier, key);
    if (Array.isArray(value)) {
      const texts = value.map(headerText).filter((text): text is string => text !== undefined);
      return texts.length > 0 ? texts : undefined;
    }
    return headerText(value);
  },
};

/** W3C traceparent/tracestate of ctx (default: active) written into carrier (string values). */
export function injectTraceHeaders(carrier: Record<string, string> = {}, ctx: Context = context.active()): Record<string, string> {
  w3c.inject(ctx, carrier, {
    set: (target, key, value) => {
      target[key] = value;
    },
  });
  return carrier;
}

/** Context from a carrier whose values may be string | Buffer | string[] | undefined (Kafka headers are Buffers). */
export function extractTraceContext(carrier: Carrier, base: Context = context.active()): Context {
  return w3c.extract(base, carrier, getter);
}

/** The span context's traceparent (active span by default), or null when there is none. */
export function currentTraceparent(ctx: Context = context.active()): string | null {
  const spanContext = trace.getSpanContext(ctx);
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return null;
  const flags = (spanContext.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/** Context whose remote parent is the given traceparent (ROOT_CONTEXT when null/invalid). */
export function contextFromTraceparent(traceparent: string | null | undefined): Context {
  if (typeof traceparent !== 'string' || traceparent === '') return ROOT_CONTEXT;
  const extracted = w3c.extract(ROOT_CONTEXT, { traceparent }, getter);
  return trace.getSpanContext(extracted) ? extracted : ROOT_CONTEXT;
}

/** trace_id/span_id of the active span for log lines; empty when there is no valid span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | Record<string, never> {
  const spanContext = trace.getSpanContext(context.active());
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
