import { isServiceError, parseGrpcError } from '@wallet/platform';
import { isBreakerOpenError, type BreakerOpenError } from '@wallet/platform/resilience';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  EDGE_PROBLEMS,
  problemFromGrpcError,
  problemFromKind,
  ProblemError,
  type Problem,
} from '../mapping/problems.js';
import { validationProblem, type SchemaValidationIssue } from '../mapping/validation.js';
import type { OpenApiSpec } from '../openapi/spec.js';
import { DEPENDENCY_TITLES } from '../clients/guarded.js';
import { bearerChallenge } from './auth.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The OpenAPI operation a route implements. */
    operationId?: string;
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
export const IDEMPOTENT_REPLAYED_HEADER = 'idempotent-replayed';

export interface ErrorHandlingOptions {
  spec: OpenApiSpec;
  retryAfterSeconds: number;
}

/**
 * Writes a problem document; every error response of the gateway goes through
 * here. 503 and 429 answers say when to come back (Retry-After, seconds).
 */
export function sendProblem(request: FastifyRequest, reply: FastifyReply, problem: Problem, retryAfterSeconds: number): FastifyReply {
  const body: Problem = { ...problem, requestId: request.id };
  if (body.status === 503 || body.status === 429) reply.header('retry-after', String(retryAfterSeconds));
  return reply.code(body.status).type(PROBLEM_CONTENT_TYPE).send(body);
}

/** Errors Fastify raises itself before a handler runs (body parsing, limits, bad URLs). */
function edgeProblem(error: FastifyError): Problem | undefined {
  switch (error.statusCode) {
    case 413:
      return problemFromKind(EDGE_PROBLEMS.payloadTooLarge, 'The request body is larger than the limit.');
    case 415:
      return problemFromKind(EDGE_PROBLEMS.unsupportedMediaType, 'The request body must be application/json.');
    case 400:
      // JSON syntax errors, an empty JSON body, a prototype-poisoning attempt, a bad Content-Length.
      if (error.code?.startsWith('FST_ERR_CTP_') || error instanceof SyntaxError) {
        return problemFromKind(EDGE_PROBLEMS.malformedBody, 'The request body is not valid JSON.');
      }
      return problemFromKind(EDGE_PROBLEMS.badRequest, 'The request is malformed.');
    default:
      return undefined;
  }
}

/**
 * An open circuit breaker refused the call before anything was sent: 503
 * dependency-unavailable naming the dependency, Retry-After = until its next
 * probe. Certainly not executed, so a top-up is certainly not charged.
 */
function breakerOpenProblem(error: BreakerOpenError, topUp: boolean): Problem {
  const dependency = DEPENDENCY_TITLES[error.breaker] ?? error.breaker;
  const detail =
    `${dependency} is failing, so the gateway did not send the request (nothing was executed); ` +
    `retry after ${error.retryAfterSeconds} s with the same Idempotency-Key.`;
  return problemFromKind(EDGE_PROBLEMS.dependencyUnavailable, detail, topUp ? { charged: false } : {});
}

/** Route patterns by method, to tell "no such path" (404) from "no such method here" (405). */
class RouteTable {
  private readonly routes: { pattern: RegExp; methods: Set<string> }[] = [];

  add(url: string, methods: string[]): void {
    // The CORS plugin's catch-all OPTIONS route would match every path; it says nothing about resources.
    if (url === '*' || url === '/*') return;
    const source = url
      .split('/')
      .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('/');
    const pattern = new RegExp(`^${source}$`);
    const existing = this.routes.find((r) => r.pattern.source === pattern.source);
    if (existing) for (const m of methods) existing.methods.add(m);
    else this.routes.push({ pattern, methods: new Set(methods) });
  }

  allowedMethods(path: string): string[] {
    const allowed = new Set<string>();
    for (const route of this.routes) if (route.pattern.test(path)) for (const m of route.methods) allowed.add(m);
    return [...allowed].sort();
  }
}

/**
 * One error handler for the whole API: validation errors, Fastify's own
 * errors, problems raised by the mapping and failed gRPC calls all become
 * RFC 9457 problem+json. Unknown errors are logged and answered as a bare 500.
 * Must be installed before any route is registered (it watches onRoute).
 */
export function installErrorHandling(app: FastifyInstance, options: ErrorHandlingOptions): void {
  const routes = new RouteTable();
  app.addHook('onRoute', (route) => {
    routes.add(route.url, Array.isArray(route.method) ? route.method : [route.method]);
  });

  // A request no route matches is answered by its path alone (404, or 405 + Allow), even when
  // Fastify failed it earlier (a body it could not parse, a method it has no parser rules for).
  const answerUnrouted = (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0] ?? '/';
    const allowed = routes.allowedMethods(path);
    if (allowed.length > 0) {
      reply.header('allow', allowed.join(', '));
      const detail = `${request.method.slice(0, 20)} is not allowed here; use ${allowed.join(', ')}.`;
      return sendProblem(request, reply, problemFromKind(EDGE_PROBLEMS.methodNotAllowed, detail), options.retryAfterSeconds);
    }
    const detail = `No route ${request.method.slice(0, 20)} ${path.slice(0, 200)}.`;
    return sendProblem(request, reply, problemFromKind(EDGE_PROBLEMS.routeNotFound, detail), options.retryAfterSeconds);
  };

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (request.is404) return answerUnrouted(request, reply);
    const operationId = request.routeOptions.config.operationId;
    const topUp = operationId === 'createTopUp';
    let problem: Problem;
    let retryAfterSeconds = options.retryAfterSeconds;

    if (error instanceof ProblemError) {
      problem = problemFromKind(error.kind, error.message, error.extensions);
      retryAfterSeconds = error.retryAfterSeconds ?? retryAfterSeconds;
      for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
    } else if (isBreakerOpenError(error)) {
      problem = breakerOpenProblem(error, topUp);
      retryAfterSeconds = error.retryAfterSeconds;
    } else if (error.validation) {
      const raised = validationProblem(error.validationContext ?? 'request', error.validation as SchemaValidationIssue[]);
      problem = problemFromKind(raised.kind, raised.message, raised.extensions);
    } else if (isServiceError(error)) {
      const parsed = parseGrpcError(error);
      const mapped = problemFromGrpcError(parsed, { topUp });
      // A business failure the service answered before for this key: the same answer, marked as a replay.
      if (parsed.metadata.replayed === 'true' && mapped.problem.status < 500) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      problem = mapped.problem;
      const declared = operationId ? options.spec.operation(operationId).responseStatuses : undefined;
      const logFields = { grpcCode: parsed.code, reason: parsed.reason, domain: parsed.domain, grpcMessage: parsed.message };
      if (mapped.unexpected) {
        request.log.error(logFields, 'downstream call failed with an unexpected status');
      } else if (declared && !declared.has(problem.status)) {
        // The contract is what clients code against: never answer a status it does not declare.
        request.log.error({ ...logFields, status: problem.status, operationId }, 'mapped status not declared for this operation');
        problem = problemFromKind(EDGE_PROBLEMS.internal, '');
      } else if (problem.status >= 500) {
        request.log.warn(logFields, 'downstream call failed');
      }
    } else {
      const edge = edgeProblem(error);
      if (edge) {
        problem = edge;
      } else {
        request.log.error({ err: error }, 'unhandled error');
        problem = problemFromKind(EDGE_PROBLEMS.internal, '');
      }
    }

    // Failures of a top-up say whether the card was charged. Refused before the
    // adapter charged anything (4xx) means not charged; a 5xx without the
    // adapter's word leaves it unknown, so the field is left out.
    if (topUp && problem.charged === undefined && problem.status < 500) problem.charged = false;
    // A backend refused the token we forwarded (e.g. it expired in between): still RFC 6750.
    if (problem.status === 401 && !reply.hasHeader('www-authenticate')) {
      reply.header('www-authenticate', bearerChallenge('the access token was refused'));
    }
    return sendProblem(request, reply, problem, retryAfterSeconds);
  });

  app.setNotFoundHandler((request, reply) => answerUnrouted(request, reply));
}
