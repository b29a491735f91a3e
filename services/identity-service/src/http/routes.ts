import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { getTracer, recordSpanError, type Span } from '@wallet/platform/tracing';
import { LoginLockedError, OAuthError, OverloadedError } from '../domain/oauth-errors.js';
import { USERS_READ_SCOPE } from '../domain/roles.js';
import type { AuthorizeService } from '../app/authorize.js';
import type { KeyRing } from '../app/key-ring.js';
import type { ClientCredentials, TokenParams, TokenResponse, TokenService } from '../app/tokens.js';
import type { UserService } from '../app/users.js';
import type { IdentityMetrics } from '../metrics.js';
import { AUTHORIZE_ROUTE } from './authorize-page.js';
import { registerAuthorizeRoutes } from './authorize-routes.js';
import { PROBLEMS, sendProblem } from './problems.js';
import { END_SESSION_ROUTE, type CookieSecurity } from './session-cookie.js';

export const TOKEN_ROUTE = '/auth/token';
export const REVOKE_ROUTE = '/auth/revoke';

export interface RouteDeps {
  issuer: string;
  audience: string;
  tokens: TokenService;
  users: UserService;
  authorize: AuthorizeService;
  keyRing: KeyRing;
  metrics: IdentityMetrics;
  /** The session cookie's Secure attribute (see session-cookie.ts). */
  cookieSecurity: CookieSecurity;
  now: () => number;
}

/** RFC 8414 / OpenID Connect Discovery metadata; only what this server implements. */
export function discoveryDocument(issuer: string, algorithms: string[]): Record<string, unknown> {
  return {
    issuer,
    jwks_uri: `${issuer}/.well-known/jwks.json`,
    authorization_endpoint: `${issuer}${AUTHORIZE_ROUTE}`,
    token_endpoint: `${issuer}${TOKEN_ROUTE}`,
    revocation_endpoint: `${issuer}${REVOKE_ROUTE}`,
    end_session_endpoint: `${issuer}${END_SESSION_ROUTE}`,
    registration_endpoint: `${issuer}/auth/register`,
    grant_types_supported: ['authorization_code', 'password', 'refresh_token', 'client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    code_challenge_methods_supported: ['S256'],
    prompt_values_supported: ['none', 'login', 'create'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: algorithms,
    token_endpoint_auth_signing_alg_values_supported: algorithms,
    scopes_supported: ['wallet', USERS_READ_SCOPE],
    claims_supported: ['iss', 'aud', 'sub', 'exp', 'iat', 'jti', 'roles', 'username', 'scope', 'client_id'],
  };
}

/** Client credentials from HTTP Basic (RFC 6749 2.3.1, form-encoded parts) or the body, never both. */
export function clientCredentialsOf(authorization: string | undefined, params: TokenParams): ClientCredentials {
  const fromBody: ClientCredentials = { clientId: params.client_id, clientSecret: params.client_secret };
  if (authorization === undefined) return fromBody;
  const match = /^Basic ([A-Za-z0-9+/=]{1,1024})$/i.exec(authorization);
  const decoded = match ? Buffer.from(match[1] ?? '', 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 1) throw new OAuthError('invalid_client', 'malformed Basic client authentication');
  if (fromBody.clientSecret !== undefined) throw new OAuthError('invalid_request', 'use one client authentication method');
  try {
    const clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
    const clientSecret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    if (fromBody.clientId !== undefined && fromBody.clientId !== clientId) throw new OAuthError('invalid_request', 'client_id differs from the authenticated client');
    return { clientId, clientSecret };
  } catch (error) {
    if (error instanceof OAuthError) throw error;
    throw new OAuthError('invalid_client', 'malformed Basic client authentication');
  }
}

type GrantLabel = 'authorization_code' | 'password' | 'refresh_token' | 'client_credentials' | 'other';
const GRANT_LABELS: readonly string[] = ['authorization_code', 'password', 'refresh_token', 'client_credentials'];

async function grant(params: TokenParams, credentials: ClientCredentials, deps: RouteDeps): Promise<TokenResponse> {
  const grantType = params.grant_type;
  if (grantType === 'authorization_code') return deps.tokens.authorizationCodeGrant(params, credentials);
  if (grantType === 'password') return deps.tokens.passwordGrant(params, credentials);
  if (grantType === 'refresh_token') return deps.tokens.refreshGrant(params, credentials);
  if (grantType === 'client_credentials') return deps.tokens.clientCredentialsGrant(params, credentials);
  if (grantType === undefined) throw new OAuthError('invalid_request', 'grant_type is required');
  throw new OAuthError('unsupported_grant_type', 'supported: authorization_code, password, refresh_token, client_credentials');
}

/** A refusal the client caused (wrong password, locked, overloaded...) marks the span with its code, not as a fault. */
function recordTokenFailure(span: Span, error: unknown, result: string): void {
  if (error instanceof OAuthError || error instanceof LoginLockedError || error instanceof OverloadedError) span.setAttribute('error.type', result);
  else recordSpanError(span, error);
}

/**
 * One INTERNAL span `token.issue` per token request: the grant type and the
 * outcome (error.type = OAuth error code), never a credential, token or username.
 */
/** The form body of the token and revocation endpoints (RFC 6749 3.2, RFC 7009 2.1). */
function formParams(request: FastifyRequest): TokenParams {
  const contentType = request.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded') || typeof request.body !== 'object' || request.body === null) {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  return request.body as TokenParams;
}

async function token(request: FastifyRequest, deps: RouteDeps): Promise<TokenResponse> {
  const params = formParams(request);
  const grantType = params.grant_type;
  const credentials = clientCredentialsOf(request.headers.authorization, params);
  const label = (grantType !== undefined && GRANT_LABELS.includes(grantType) ? grantType : 'other') as GrantLabel;
  return getTracer().startActiveSpan('token.issue', { attributes: { 'oauth.grant_type': label } }, async (span) => {
    try {
      const response = await grant(params, credentials, deps);
      deps.metrics.tokenRequests.inc({ grant: label, result: 'ok' });
      return response;
    } catch (error) {
      const result = error instanceof OAuthError ? error.code : error instanceof Error ? error.name : 'error';
      deps.metrics.tokenRequests.inc({ grant: label, result });
      recordTokenFailure(span, error, result);
      throw error;
    } finally {
      span.end();
    }
  });
}

function refreshTokenOfBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value = (body as Record<string, unknown>).refresh_token;
  return typeof value === 'string' && value.length > 0 && value.length <= 512 ? value : undefined;
}

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const discovery = async () => {
    const algorithms = [...new Set((await deps.keyRing.publishedKeys()).map((k) => k.alg))];
    return discoveryDocument(deps.issuer, algorithms);
  };
  app.get('/.well-known/openid-configuration', discovery);
  app.get('/.well-known/oauth-authorization-server', discovery);
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=60');
    return { keys: await deps.keyRing.publishedKeys() };
  });

  app.post('/auth/register', async (request, reply) => {
    const created = await deps.users.register(request.body);
    deps.metrics.registrations.inc({ result: 'created' });
    return reply.code(201).header('cache-control', 'no-store').send(created);
  });

  app.post(TOKEN_ROUTE, async (request, reply) => {
    const response = await token(request, deps);
    return reply.code(200).header('cache-control', 'no-store').header('pragma', 'no-cache').send(response);
  });

  app.post('/auth/logout', async (request, reply) => {
    const refreshToken = refreshTokenOfBody(request.body);
    if (refreshToken === undefined) {
      return sendProblem(request, reply, PROBLEMS.validation, 'refresh_token is required', { errors: [{ field: 'refresh_token', message: 'is required' }] });
    }
    await deps.tokens.logout(refreshToken);
    return reply.code(204).header('cache-control', 'no-store').send();
  });

  // RFC 7009: 200 whether or not the token was known; a token bound to another client is refused.
  app.post(REVOKE_ROUTE, async (request, reply) => {
    const params = formParams(request);
    if (!params.token || params.token.length > 512) throw new OAuthError('invalid_request', 'token is required');
    await deps.tokens.revoke(params.token, clientCredentialsOf(request.headers.authorization, params));
    return reply.code(200).header('cache-control', 'no-store').header('pragma', 'no-cache').send();
  });

  registerAuthorizeRoutes(app, { authorize: deps.authorize, metrics: deps.metrics, cookieSecurity: deps.cookieSecurity, now: deps.now });

  app.get<{ Querystring: Record<string, unknown> }>('/users', async (request, reply) => {
    const denied = await internalCallerProblem(request, deps, true);
    if (denied) {
      reply.header('www-authenticate', denied.challenge);
      return sendProblem(request, reply, denied.status === 401 ? PROBLEMS.unauthorized : PROBLEMS.forbidden, denied.detail);
    }
    const username = request.query.username;
    if (typeof username !== 'string' || username.length === 0 || username.length > 64) {
      return sendProblem(request, reply, PROBLEMS.validation, 'username is required (one value, at most 64 characters)', { errors: [{ field: 'username', message: 'is required' }] });
    }
    const user = await deps.users.findByUsername(username);
    if (!user) return sendProblem(request, reply, PROBLEMS.userNotFound, 'No user with that username.');
    return reply.header('cache-control', 'no-store').send(user);
  });

  app.get<{ Params: { id: string } }>('/users/:id', async (request, reply) => {
    const denied = await internalCallerProblem(request, deps);
    if (denied) {
      reply.header('www-authenticate', denied.challenge);
      return sendProblem(request, reply, denied.status === 401 ? PROBLEMS.unauthorized : PROBLEMS.forbidden, denied.detail);
    }
    const user = await deps.users.find(request.params.id);
    if (!user) return sendProblem(request, reply, PROBLEMS.userNotFound, 'No user with that id.');
    return reply.header('cache-control', 'no-store').send(user);
  });
}

/**
 * GET /users/{id} is for services: a token of ours carrying the users-read scope (client credentials).
 * GET /users?username= also lets support and admin users in (the console finds accounts by owner).
 */
async function internalCallerProblem(request: FastifyRequest, deps: RouteDeps, staffUsers = false): Promise<{ status: 401 | 403; challenge: string; detail: string } | undefined> {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(request.headers.authorization ?? '');
  if (!match?.[1]) return { status: 401, challenge: 'Bearer realm="identity"', detail: 'A bearer token is required.' };
  try {
    const jwks = createLocalJWKSet({ keys: await deps.keyRing.publishedKeys() });
    const { payload } = await jwtVerify(match[1], jwks, { issuer: deps.issuer, audience: deps.audience, algorithms: ['ES256', 'EdDSA'] });
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (scopes.includes(USERS_READ_SCOPE)) return undefined;
    const roles = Array.isArray(payload.roles) ? payload.roles : [];
    if (staffUsers && (roles.includes('support') || roles.includes('admin'))) return undefined;
    return { status: 403, challenge: `Bearer realm="identity", error="insufficient_scope", scope="${USERS_READ_SCOPE}"`, detail: `The token lacks scope ${USERS_READ_SCOPE}.` };
  } catch {
    return { status: 401, challenge: 'Bearer realm="identity", error="invalid_token"', detail: 'The token is invalid or expired.' };
  }
}
