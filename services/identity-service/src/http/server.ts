// The public HTTP API: Fastify with one error handler, a form parser for the
// token endpoint, a one-line access log that never holds a query string or body, and
// the platform's request span and RED histogram.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from '@wallet/platform';
import { httpServerObservability, requestTraceContext } from '@wallet/platform/http';
import { trace } from '@wallet/platform/tracing';
import { classifyDbError } from '@wallet/platform/db';
import { LoginLockedError, OAuthError, OverloadedError, UsernameTakenError } from '../domain/oauth-errors.js';
import { RegistrationInvalidError } from '../app/users.js';
import type { Registry } from 'prom-client';
import type { IdentityMetrics } from '../metrics.js';
import { PROBLEMS, requestIdFrom, sendOAuthError, sendProblem } from './problems.js';
import { AUTHORIZE_ROUTE } from './authorize-page.js';
import { sendUnreadableForm } from './authorize-routes.js';
import { registerRoutes, REVOKE_ROUTE, TOKEN_ROUTE, type RouteDeps } from './routes.js';

export interface HttpServerOptions extends RouteDeps {
  logger: Logger;
  /** Service certificate, key and CA for HTTPS (no client certificate asked: these are public OIDC endpoints); null: plain HTTP. */
  https: { ca: Buffer; cert: Buffer; key: Buffer } | null;
  metrics: IdentityMetrics;
  /** http_server_request_duration_seconds goes here (platform plugin). */
  registry: Registry;
  bodyBytesMax: number;
  requestTimeoutMs: number;
}

/** Duplicate parameters are refused (RFC 6749 3.2: "MUST NOT be included more than once"). */
export class DuplicateParameterError extends Error {
  override name = 'DuplicateParameterError';
  readonly statusCode = 400;
}

export function parseForm(body: string): Record<string, string> {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [key, value] of new URLSearchParams(body)) {
    if (key in params) throw new DuplicateParameterError(`parameter ${key.slice(0, 40)} given more than once`);
    params[key] = value;
  }
  return params;
}

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const tokenRoute = request.routeOptions.url === TOKEN_ROUTE || request.routeOptions.url === REVOKE_ROUTE;
  // The sign-in page is for people: a form it cannot read gets an HTML page, not JSON.
  if (request.routeOptions.url === AUTHORIZE_ROUTE && (error.statusCode === 400 || error.statusCode === 415 || error instanceof SyntaxError)) return sendUnreadableForm(reply);
  if (error instanceof OAuthError) return sendOAuthError(reply, error, typeof request.headers.authorization === 'string');
  if (error instanceof LoginLockedError) return sendProblem(request, reply, PROBLEMS.loginLocked, error.message, { retryAfterSeconds: error.retryAfterSeconds });
  if (error instanceof OverloadedError) return sendProblem(request, reply, PROBLEMS.overloaded, error.message, { retryAfterSeconds: error.retryAfterSeconds });
  if (error instanceof RegistrationInvalidError) return sendProblem(request, reply, PROBLEMS.validation, error.message, { errors: error.errors });
  if (error instanceof UsernameTakenError) return sendProblem(request, reply, PROBLEMS.usernameTaken, error.message);
  if (error.statusCode === 413) return sendProblem(request, reply, PROBLEMS.payloadTooLarge, 'The request body is larger than the limit.');
  if (error.statusCode === 415) {
    if (tokenRoute) return sendOAuthError(reply, new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded'), false);
    return sendProblem(request, reply, PROBLEMS.unsupportedMediaType, 'Unsupported request body type.');
  }
  if (error.statusCode === 400 || error instanceof SyntaxError) {
    if (tokenRoute) return sendOAuthError(reply, new OAuthError('invalid_request', error instanceof DuplicateParameterError ? error.message : 'malformed request'), false);
    return sendProblem(request, reply, PROBLEMS.malformedBody, 'The request body could not be parsed.');
  }
  if (classifyDbError(error)) {
    request.log.warn({ err: error }, 'database unavailable');
    return sendProblem(request, reply, PROBLEMS.unavailable, 'The service is temporarily unavailable.', { retryAfterSeconds: 1 });
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendProblem(request, reply, PROBLEMS.internal, 'An unexpected error occurred; it has been logged.');
}

export async function buildHttpServer(options: HttpServerOptions): Promise<FastifyInstance> {
  const https = options.https === null ? {} : { https: { ...options.https, minVersion: 'TLSv1.2' as const } };
  // Fastify types an HTTPS instance apart from an HTTP one; routes and hooks are the same for both.
  const app = Fastify({
    ...https,
    loggerInstance: options.logger as FastifyBaseLogger,
    // Our own one-line access log (onResponse below) replaces Fastify's two lines per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    bodyLimit: options.bodyBytesMax,
    requestTimeout: options.requestTimeoutMs,
    connectionTimeout: options.requestTimeoutMs,
  }) as unknown as FastifyInstance;
  // Public endpoints (anyone may call them, not only the gateway): a caller's traceparent is linked, never the parent.
  httpServerObservability(app, { registry: options.registry, edge: true });
  // The request id (the gateway's X-Request-Id when it forwarded the call) on the span: `npm run trace -- <id>` finds it.
  app.addHook('onRequest', async (request) => {
    const spanContext = requestTraceContext(request);
    if (spanContext) trace.getSpan(spanContext)?.setAttribute('wallet.request_id', request.id);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: options.bodyBytesMax }, (_request, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, PROBLEMS.routeNotFound, 'No such route.'));
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    // Method, route pattern and status only: never the URL's query, a header value or the body.
    // Counts and durations: http_server_request_duration_seconds; trace ids come with request.log.
    request.log.info({ method: request.method, route, status: reply.statusCode, durationMs: Math.round(reply.elapsedTime) }, 'request');
  });
  registerRoutes(app, options);
  await app.ready();
  return app;
}
