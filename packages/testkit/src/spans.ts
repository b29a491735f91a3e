// In-memory span capture for tests: the platform's tracing with an exporter
// that keeps every finished span, sampled always (no OTLP endpoint needed).
import { InMemorySpanExporter, startTracing, type ReadableSpan, type TracingHandle } from '@wallet/platform/tracing';

export interface SpanCapture {
  spans(): ReadableSpan[];
  reset(): void;
  stop(): Promise<void>;
}

export function captureSpans(service: string): SpanCapture {
  const exporter = new InMemorySpanExporter();
  const handle: TracingHandle = startTracing(service, { OTEL_TRACES_SAMPLER: 'always_on' }, { exporter, simpleProcessor: true });
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    stop: () => handle.shutdown(),
  };
}

/** Every text a span exposes: name, attribute values, event names and attributes, status message, link attributes. */
export function spanTexts(span: ReadableSpan): string[] {
  const texts = [span.name, span.status.message ?? ''];
  const values = (attributes: Record<string, unknown> | undefined) => Object.entries(attributes ?? {}).flatMap(([key, value]) => [key, String(value)]);
  texts.push(...values(span.attributes));
  for (const event of span.events) texts.push(event.name, ...values(event.attributes));
  for (const link of span.links) texts.push(...values(link.attributes));
  return texts;
}

/** The first span (name and text) holding one of the secrets, or undefined. */
export function findSecretInSpans(spans: readonly ReadableSpan[], secrets: readonly string[]): { span: string; secretLength: number } | undefined {
  for (const span of spans) {
    const texts = spanTexts(span);
    const secret = secrets.find((candidate) => texts.some((text) => text.includes(candidate)));
    if (secret !== undefined) return { span: span.name, secretLength: secret.length };
  }
  return undefined;
}
