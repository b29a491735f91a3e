import { randomUUID } from 'node:crypto';
import { requestTraceContext } from '@wallet/platform/http';
import { trace } from '@wallet/platform/tracing';
import type { FastifyInstance } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';

/**
 * A caller's id is kept only when it is short and made of URL-safe
 * characters, so it cannot forge log lines or carry payloads downstream;
 * anything else is replaced by a fresh UUID.
 */
const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._~:@/+=-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && ACCEPTED_REQUEST_ID.test(value) ? value : randomUUID();
}

/** Span attribute holding the request id: `npm run trace -- <X-Request-Id>` finds the trace by it. */
export const REQUEST_ID_ATTRIBUTE = 'wallet.request_id';

/**
 * Echoes the request id on every response (set first, so errors and 404s carry it too)
 * and records it on the request's SERVER span (install after httpServerObservability).
 */
export function installRequestIdEcho(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    const spanContext = requestTraceContext(request);
    if (spanContext) trace.getSpan(spanContext)?.setAttribute(REQUEST_ID_ATTRIBUTE, request.id);
  });
}
