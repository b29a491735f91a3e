// Spans of the outbox relay. A cycle that found rows is one INTERNAL span
// `outbox.relay` (a root of its own: it serves many requests); each record it
// sends is a PRODUCER span whose parent is the trace context stored with the
// row (the request that wrote it), linked to the cycle, so the record's
// journey joins the transfer's or deposit's trace. The record carries that
// producer span's traceparent; consumers continue from there.
import {
  contextFromTraceparent,
  getTracer,
  injectTraceHeaders,
  recordSpanError,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Span,
} from '@wallet/platform/tracing';

/** What a producer span needs from an outbox row (no payload: it may hold a description the user typed). */
export interface TracedRow {
  event_type: string;
  trace_context: string | null;
}

/**
 * A context in which no span is recorded. The relay polls every few hundred
 * milliseconds; an idle poll (lock, look, unlock) would otherwise be a trace
 * of its own each time. The cycle span starts only once there are rows.
 */
export { untracedContext } from '@wallet/platform/tracing';

export function messagingAttributes(topic: string) {
  return { 'messaging.system': 'kafka', 'messaging.destination.name': topic, 'messaging.operation.type': 'send' } as const;
}

/** One PRODUCER span per row: child of the row's stored context (a new root when it has none), linked to the cycle. */
export function startProducerSpans(rows: readonly TracedRow[], topic: string, cycle: Span): Span[] {
  const tracer = getTracer();
  const link = { context: cycle.spanContext() };
  return rows.map((row) =>
    tracer.startSpan(
      `send ${topic}`,
      {
        kind: SpanKind.PRODUCER,
        links: [link],
        attributes: { ...messagingAttributes(topic), 'messaging.operation.name': 'send', 'wallet.event_type': row.event_type },
      },
      contextFromTraceparent(row.trace_context),
    ),
  );
}

/** Kafka headers of a record: the producer span's traceparent added to the existing ones (which win on a clash). */
export function recordHeaders(headers: Record<string, string>, span: Span): Record<string, string> {
  return { ...injectTraceHeaders({}, trace.setSpan(ROOT_CONTEXT, span)), ...headers };
}

/** Ends producer spans once the broker answered; a failed send marks each (error type only, never the broker's text). */
export function endProducerSpans(spans: readonly Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) recordSpanError(span, error, 'kafka send failed');
    span.end();
  }
}

