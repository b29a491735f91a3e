import { AccessTokenError, mayMoveMoney, parseBearer, type Principal, type TokenVerifier } from '@wallet/platform/auth';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { CallContext } from '../clients/types.js';
import { EDGE_PROBLEMS, ProblemError } from '../mapping/problems.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The operation declares a security requirement in openapi.yaml: a bearer token is required. */
    secured?: boolean;
  }
  interface FastifyRequest {
    /** The verified caller of a secured route (null elsewhere). */
    principal: Principal | null;
    /** `Bearer <token>` as verified, forwarded to the backends (null elsewhere). */
    bearer: string | null;
  }
}

export const AUTH_REALM = 'wallet';

/**
 * Operations that move money or open an account. Support may read anything and
 * move nothing: refused here, before any backend is called (the backends refuse
 * it too; this is defence in depth and saves the round trip).
 */
export const MONEY_MOVING_OPERATIONS: ReadonlySet<string> = new Set(['createTransfer', 'createTopUp', 'createAccount']);

/**
 * RFC 6750 section 3 challenge. No `error` attribute when the request carried
 * no bearer token at all (section 3.1); `invalid_token` when it carried a bad one.
 */
export function bearerChallenge(invalidTokenDescription?: string): string {
  if (invalidTokenDescription === undefined) return `Bearer realm="${AUTH_REALM}"`;
  // error_description allows %x20-21 / %x23-5B / %x5D-7E only: no quote, no backslash, no control or non-ASCII.
  const description = invalidTokenDescription.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
  return `Bearer realm="${AUTH_REALM}", error="invalid_token", error_description="${description}"`;
}

export function unauthenticated(detail: string, invalidTokenDescription?: string): ProblemError {
  return new ProblemError(EDGE_PROBLEMS.unauthenticated, detail, {}, undefined, {
    'www-authenticate': bearerChallenge(invalidTokenDescription),
  });
}

export function forbidden(detail: string): ProblemError {
  return new ProblemError(EDGE_PROBLEMS.forbidden, detail);
}

/** What a route forwards downstream: request id and the verified bearer token. */
export function callContextOf(request: FastifyRequest): CallContext {
  return request.bearer === null ? { requestId: request.id } : { requestId: request.id, authorization: request.bearer };
}

/** The principal of a secured route; a route without one is a wiring bug. */
export function principalOf(request: FastifyRequest): Principal {
  if (request.principal === null) throw new Error(`route ${request.routeOptions.url ?? '?'} is not secured`);
  return request.principal;
}

async function authenticate(request: FastifyRequest, verifier: TokenVerifier): Promise<Principal> {
  const header = request.headers.authorization;
  const parsed = parseBearer(header);
  if (parsed.kind === 'missing') throw unauthenticated('An access token is required: send Authorization: Bearer <token>.');
  if (parsed.kind === 'malformed') {
    // Another scheme (Basic, ...) carries no bearer token: no error attribute (RFC 6750 3.1).
    const presentedBearer = typeof header === 'string' && /^bearer(\s|$)/i.test(header);
    const detail = 'The Authorization header is not a well-formed bearer token.';
    throw presentedBearer ? unauthenticated(detail, 'the bearer token is malformed') : unauthenticated(detail);
  }
  try {
    const principal = await verifier.verify(parsed.token);
    request.bearer = `Bearer ${parsed.token}`;
    return principal;
  } catch (error) {
    if (error instanceof AccessTokenError && error.code === 'invalid_token') {
      throw unauthenticated(`The access token was refused: ${error.description}.`, error.description);
    }
    if (error instanceof AccessTokenError) {
      request.log.warn({ reason: error.description }, 'access token could not be checked');
      throw new ProblemError(EDGE_PROBLEMS.authUnavailable, '');
    }
    throw error;
  }
}

/**
 * Authentication at the edge: every route whose operation declares a security
 * requirement needs a valid bearer token, checked before the body is read or
 * validated (an anonymous caller learns nothing about the API's rules).
 * Must be installed before the routes.
 */
export function installAuthentication(app: FastifyInstance, verifier: TokenVerifier): void {
  app.decorateRequest('principal', null);
  app.decorateRequest('bearer', null);
  app.addHook('onRequest', async (request) => {
    const { secured, operationId } = request.routeOptions.config;
    if (secured !== true) return;
    const principal = await authenticate(request, verifier);
    request.principal = principal;
    if (operationId !== undefined && MONEY_MOVING_OPERATIONS.has(operationId) && !mayMoveMoney(principal)) {
      throw forbidden('Your role may read accounts but not move money or open accounts.');
    }
  });
}
