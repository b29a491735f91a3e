import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  IdentityBadResponseError,
  IdentityTimeoutError,
  IdentityUnavailableError,
  type IdentityApi,
  type IdentityPath,
} from '../clients/identity.js';
import { EDGE_PROBLEMS, ProblemError } from '../mapping/problems.js';
import type { OperationSpec } from '../openapi/spec.js';
import type { RouteDeps } from './deps.js';

const AUTH_OPERATIONS: readonly [operationId: string, path: IdentityPath][] = [
  ['registerUser', '/auth/register'],
  ['issueToken', '/auth/token'],
  ['logout', '/auth/logout'],
  ['authorizePage', '/auth/authorize'],
  ['authorizeSubmit', '/auth/authorize'],
  ['revokeToken', '/auth/revoke'],
  ['endSession', '/auth/logout'],
];

/** The routes that read the identity provider's session cookie (its Path); no other gets it forwarded. */
const SESSION_OPERATIONS: ReadonlySet<string> = new Set(['authorizePage', 'authorizeSubmit', 'endSession']);

function forwardFailure(error: unknown): unknown {
  if (error instanceof IdentityTimeoutError) return new ProblemError(EDGE_PROBLEMS.identityTimeout, '');
  if (error instanceof IdentityUnavailableError) return new ProblemError(EDGE_PROBLEMS.identityUnavailable, '');
  if (error instanceof IdentityBadResponseError) return new ProblemError(EDGE_PROBLEMS.identityBadResponse, '');
  return error;
}

async function relay(request: FastifyRequest, reply: FastifyReply, identity: IdentityApi, path: IdentityPath, operation: OperationSpec, operationId: string) {
  const header = (name: string): string | undefined => {
    const value = request.headers[name];
    return typeof value === 'string' ? value : undefined;
  };
  let answer;
  try {
    const queryStart = request.url.indexOf('?');
    answer = await identity.forward({
      path,
      method: request.method === 'GET' ? 'GET' : 'POST',
      ...(request.method === 'GET' && queryStart >= 0 ? { query: request.url.slice(queryStart) } : {}),
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
      headers: {
        'content-type': header('content-type'),
        authorization: header('authorization'),
        accept: header('accept'),
        'x-request-id': request.id,
        'x-forwarded-for': request.ip,
        // The scheme the browser used, so the session cookie is Secure exactly when the browser speaks https.
        ...(SESSION_OPERATIONS.has(operationId) ? { cookie: header('cookie'), 'x-forwarded-proto': request.protocol } : {}),
      },
    });
  } catch (error) {
    request.log.warn({ err: { name: (error as Error).name, message: (error as Error).message }, path }, 'identity-service call failed');
    throw forwardFailure(error);
  }
  // Never leave the contract: an undeclared status (a 500 of the identity-service) is a bad gateway.
  if (!operation.responseStatuses.has(answer.status)) {
    request.log.error({ path, status: answer.status }, 'identity-service answered a status the contract does not declare');
    throw new ProblemError(EDGE_PROBLEMS.identityBadResponse, '');
  }
  // Only the session routes may set the identity provider's cookie; no other /auth answer sets any.
  const { 'set-cookie': cookies, ...headers } = answer.headers;
  reply.code(answer.status).headers(SESSION_OPERATIONS.has(operationId) && cookies !== undefined ? { ...headers, 'set-cookie': cookies } : headers);
  return answer.status === 204 || answer.body.length === 0 ? reply.send() : reply.send(answer.body);
}

/**
 * POST /auth/register, /auth/token, /auth/logout: forwarded to the
 * identity-service, status, body and the headers that matter unchanged. The
 * gateway does not parse or validate these bodies: the identity-service is the
 * authority and answers in the formats the contract states (RFC 6749 section
 * 5.2 JSON errors on the token endpoint, which a gateway problem+json 400
 * would break). Registered in their own scope, where every body is read as
 * raw bytes (bounded by GATEWAY_BODY_BYTES_MAX) and relayed as it came.
 */
export async function registerAuthRoutes(app: FastifyInstance, { spec }: RouteDeps, identity: IdentityApi): Promise<void> {
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const [operationId, path] of AUTH_OPERATIONS) {
      const operation = spec.operation(operationId);
      scope.route({
        method: operation.method,
        url: operation.url,
        config: { operationId, secured: operation.secured },
        // Headers are checked like on every other route (X-Request-Id's bounds); the body is not (see above).
        ...(operation.schema.headers === undefined ? {} : { schema: { headers: operation.schema.headers } }),
        handler: (request, reply) => relay(request, reply, identity, path, operation, operationId),
      });
    }
  });
}
