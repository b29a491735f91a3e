// RFC 9457 problem+json for the non-OAuth routes, shaped like the gateway's
// (type urn:problem:wallet:<slug>, code, errors[]), and RFC 6749 5.2 bodies
// for the token endpoint.
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FieldError } from '../domain/credentials.js';
import type { OAuthError } from '../domain/oauth-errors.js';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemKind {
  status: number;
  slug: string;
  title: string;
  code: string;
}

const kind = (status: number, slug: string, title: string, code: string): ProblemKind => ({ status, slug, title, code });

export const PROBLEMS = {
  validation: kind(400, 'validation-error', 'Invalid request', 'VALIDATION_ERROR'),
  malformedBody: kind(400, 'malformed-body', 'Malformed request body', 'MALFORMED_BODY'),
  unauthorized: kind(401, 'unauthorized', 'Unauthorized', 'UNAUTHORIZED'),
  forbidden: kind(403, 'forbidden', 'Forbidden', 'FORBIDDEN'),
  userNotFound: kind(404, 'user-not-found', 'User not found', 'USER_NOT_FOUND'),
  routeNotFound: kind(404, 'route-not-found', 'Not found', 'ROUTE_NOT_FOUND'),
  usernameTaken: kind(409, 'username-taken', 'Username taken', 'USERNAME_TAKEN'),
  payloadTooLarge: kind(413, 'payload-too-large', 'Payload too large', 'PAYLOAD_TOO_LARGE'),
  unsupportedMediaType: kind(415, 'unsupported-media-type', 'Unsupported media type', 'UNSUPPORTED_MEDIA_TYPE'),
  loginLocked: kind(429, 'login-locked', 'Too many failed logins', 'LOGIN_LOCKED'),
  overloaded: kind(503, 'overloaded', 'Service busy', 'OVERLOADED'),
  unavailable: kind(503, 'unavailable', 'Service unavailable', 'UNAVAILABLE'),
  internal: kind(500, 'internal-error', 'Internal error', 'INTERNAL'),
} as const;

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  problem: ProblemKind,
  detail: string,
  extra: { errors?: FieldError[]; retryAfterSeconds?: number } = {},
): FastifyReply {
  if (extra.retryAfterSeconds !== undefined) reply.header('retry-after', String(extra.retryAfterSeconds));
  const body = {
    type: `urn:problem:wallet:${problem.slug}`,
    title: problem.title,
    status: problem.status,
    detail,
    code: problem.code,
    requestId: request.id,
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  return reply.code(problem.status).header('cache-control', 'no-store').type(PROBLEM_CONTENT_TYPE).send(body);
}

/** RFC 6749 5.2; invalid_client also names the scheme the client should use (RFC 6749 5.2, RFC 7235). */
export function sendOAuthError(reply: FastifyReply, error: OAuthError, basicAttempted: boolean): FastifyReply {
  if (error.code === 'invalid_client') {
    reply.header('www-authenticate', basicAttempted ? 'Basic realm="identity", error="invalid_client"' : 'Basic realm="identity"');
  }
  return reply
    .code(error.status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .type('application/json')
    .send({ error: error.code, error_description: error.message });
}

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;

/** The caller's request id when it is a sane token, else a new one. */
export function requestIdFrom(header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID_PATTERN.test(header) ? header : randomUUID();
}
