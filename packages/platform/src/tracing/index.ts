export { startTracing, TRACING_SHUTDOWN_TIMEOUT_MS, type TracingHandle, type TracingOptions } from './start.js';
export { loadTracingConfig, type TracingConfig, type SamplerName, type OtlpProtocol } from './config.js';
export { getTracer, withSpan, recordSpanError, errorType, untracedContext, TRACER_NAME } from './spans.js';
export {
  injectTraceHeaders,
  extractTraceContext,
  currentTraceparent,
  contextFromTraceparent,
  activeTraceIds,
} from './propagation.js';
export { context, trace, propagation, SpanKind, SpanStatusCode, ROOT_CONTEXT } from '@opentelemetry/api';
export type { Span, Context, Link, SpanOptions, Tracer, Attributes, SpanContext } from '@opentelemetry/api';
// For tests of any service: capture spans in memory (startTracing(name, env, { exporter, simpleProcessor: true })).
export { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
export type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
