import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import { grpcStatusName, isServiceError, parseGrpcError } from '../grpc/errors.js';

/** Instrumentation scope of every span our wrappers make. */
export const TRACER_NAME = '@wallet/platform';

/** The tracer (a proxy until startTracing registers the provider, so it may be taken at module load). */
export function getTracer(name: string = TRACER_NAME): Tracer {
  return trace.getTracer(name);
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/**
 * What failed, as `error.type`: a gRPC error's reason (or status name), a
 * PostgreSQL SQLSTATE, else the error's class. Never its message, which may echo input.
 */
export function errorType(error: unknown): string {
  if (!(error instanceof Error)) return typeof error;
  if (isServiceError(error)) return parseGrpcError(error).reason ?? grpcStatusName(error.code);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && SQLSTATE.test(code)) return code;
  // pg names its DatabaseError "error": the class says more.
  return error.name && error.name !== 'Error' && error.name !== 'error' ? error.name : error.constructor.name;
}

/**
 * Marks a span failed: status ERROR, `error.type`, and a status message only
 * when the caller gives one of our own (raw messages may echo card data or SQL input).
 */
export function recordSpanError(span: Span, error: unknown, message?: string, type: string = errorType(error)): void {
  span.setAttribute('error.type', type);
  span.setStatus(message === undefined ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message });
}

/** Runs fn in a new active span; ends it; on throw sets status ERROR + error.type and rethrows. */
export async function withSpan<T>(
  name: string,
  options: SpanOptions & { parent?: Context },
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  const { parent, ...spanOptions } = options;
  const parentContext = parent ?? context.active();
  const span = getTracer().startSpan(name, spanOptions, parentContext);
  return context.with(trace.setSpan(parentContext, span), async () => {
    try {
      return await fn(span);
    } catch (error) {
      recordSpanError(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * A context in which no span is made (idle poll loops would otherwise be a
 * root trace per tick); start real work from a normal context again.
 */
export function untracedContext(base: Context = ROOT_CONTEXT): Context {
  return suppressTracing(base);
}
