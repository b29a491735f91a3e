// A SERVER span and the RED histogram for every Fastify request. Recorded:
// method, route template, status; never the URL's query, headers or body.
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Link, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { Histogram, Registry } from 'prom-client';
import { bindTraceIds, loggerWithTraceIds, readsBoundTraceIds } from '../logger.js';
import { redHistogram } from '../metrics.js';
import { extractTraceContext } from '../tracing/propagation.js';
import { getTracer } from '../tracing/spans.js';

export interface HttpServerObservabilityOptions {
  /** The service's registry: http_server_request_duration_seconds{method,route,status_code}. Optional: spans only. */
  registry?: Registry;
  /**
   * Public edge: an incoming traceparent is not trusted as parent (anyone can
   * send one); the request starts a new trace with a link to it.
   */
  edge: boolean;
}

/** The response header giving the request's trace id, for clients and operators to look the trace up. */
export const TRACE_ID_HEADER = 'x-trace-id';
/** Route label of requests no route matched (404s): keeps the label set bounded. */
export const UNMATCHED_ROUTE = 'unmatched';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

interface RequestTrace {
  span: Span;
  context: Context;
  ended: boolean;
}

const traces = new WeakMap<FastifyRequest, RequestTrace>();

/** Any Fastify instance, whatever its server and logger types (the gateway passes its pino logger). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFastifyInstance = FastifyInstance<any, any, any, any, any>;

type Labels = 'method' | 'route' | 'status_code';

export function httpServerHistogram(registry: Registry): Histogram<Labels> {
  return redHistogram(registry, 'http_server_request_duration_seconds', 'HTTP requests answered, by method, route template and status.', [
    'method',
    'route',
    'status_code',
  ]);
}

/** The request's span context (e.g. to log or make spans from a hook that runs outside it). */
export function requestTraceContext(request: FastifyRequest): Context | undefined {
  return traces.get(request)?.context;
}

function methodOf(request: FastifyRequest): string {
  return KNOWN_METHODS.has(request.method) ? request.method : 'OTHER';
}

function routeOf(request: FastifyRequest): string | undefined {
  return request.routeOptions.url;
}

/** Parent and links: the caller's context inside the system, a link only at the edge. */
function parentOf(request: FastifyRequest, edge: boolean): { parent: Context; links: Link[] } {
  const incoming = extractTraceContext(request.headers, ROOT_CONTEXT);
  if (!edge) return { parent: incoming, links: [] };
  const remote = trace.getSpanContext(incoming);
  return { parent: ROOT_CONTEXT, links: remote && trace.isSpanContextValid(remote) ? [{ context: remote }] : [] };
}

function startRequestSpan(request: FastifyRequest, edge: boolean): RequestTrace {
  const route = routeOf(request);
  const method = methodOf(request);
  const { parent, links } = parentOf(request, edge);
  const attributes = {
    'http.request.method': method === 'OTHER' ? '_OTHER' : method,
    'url.scheme': request.protocol,
    ...(route ? { 'http.route': route } : {}),
  };
  const span = getTracer().startSpan(route ? `${method} ${route}` : method, { kind: SpanKind.SERVER, attributes, links }, parent);
  return { span, context: trace.setSpan(parent, span), ended: false };
}

function endRequestSpan(request: FastifyRequest, statusCode: number | undefined): void {
  const state = traces.get(request);
  if (!state || state.ended) return;
  state.ended = true;
  if (statusCode === undefined) {
    state.span.setAttribute('error.type', 'aborted');
  } else {
    state.span.setAttribute('http.response.status_code', statusCode);
    // Server spans: only 5xx are the server's failure (4xx are the caller's).
    if (statusCode >= 500) {
      state.span.setAttribute('error.type', String(statusCode));
      state.span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
  state.span.end();
}

/** Runs a route handler inside its request's span even if a hook or body parser resumed outside that context. */
function inRequestContext(handler: RouteHandlerMethod): RouteHandlerMethod {
  return function (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
    const state = traces.get(request);
    return state ? context.with(state.context, () => handler.call(this, request, reply)) : handler.call(this, request, reply);
  } as RouteHandlerMethod;
}

/**
 * Call on the root instance BEFORE registering routes (handlers are wrapped as
 * routes are added). Every request: a SERVER span "<METHOD> <route template>"
 * (http.request.method, http.route, http.response.status_code), the header
 * X-Trace-Id, trace ids on request.log lines, and with a registry the histogram
 * http_server_request_duration_seconds{method,route,status_code} (route
 * "unmatched" for 404s without a route).
 */
export function httpServerObservability(app: AnyFastifyInstance, options: HttpServerObservabilityOptions): void {
  const histogram = options.registry ? httpServerHistogram(options.registry) : undefined;
  app.addHook('onRoute', (route) => {
    route.handler = inRequestContext(route.handler as RouteHandlerMethod);
  });
  app.addHook('onRequest', (request, reply, done) => {
    const state = startRequestSpan(request, options.edge);
    traces.set(request, state);
    const ids = state.span.spanContext();
    reply.header(TRACE_ID_HEADER, ids.traceId);
    if (readsBoundTraceIds(request.log)) {
      bindTraceIds(request.log, ids);
    } else {
      request.log = loggerWithTraceIds(request.log, ids);
      reply.log = request.log;
    }
    // The rest of the chain (and a bodiless request's handler) runs in the span's context.
    context.with(state.context, done);
  });
  app.addHook('onResponse', (request, reply, done) => {
    endRequestSpan(request, reply.statusCode);
    const labels = { method: methodOf(request), route: routeOf(request) ?? UNMATCHED_ROUTE, status_code: String(reply.statusCode) };
    histogram?.observe(labels, reply.elapsedTime / 1000);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    endRequestSpan(request, undefined);
    done();
  });
}
