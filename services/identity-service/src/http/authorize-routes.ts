// GET/POST /auth/authorize: the sign-in and sign-up pages of the authorization
// code flow (RFC 6749 4.1 with PKCE). Every answer is HTML or a 303 redirect.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthorizeService } from '../app/authorize.js';
import { RegistrationInvalidError } from '../app/users.js';
import { redirectWith, type AuthorizationRequest } from '../domain/authorization-code.js';
import { LoginLockedError, OAuthError, OverloadedError, UsernameTakenError } from '../domain/oauth-errors.js';
import type { IdentityMetrics } from '../metrics.js';
import { AUTHORIZE_ROUTE, pageCsp, renderAuthorizePage, renderErrorPage, renderSignedOutPage, type PageOptions } from './authorize-page.js';
import { clearedSessionCookies, END_SESSION_ROUTE, sessionCookies, sessionIdOf, type CookieSecurity } from './session-cookie.js';

export interface AuthorizeRouteDeps {
  authorize: AuthorizeService;
  metrics: IdentityMetrics;
  /** The session cookie's Secure attribute: fixed by configuration, or `auto` (the browser's scheme). */
  cookieSecurity: CookieSecurity;
  now: () => number;
}

/** Headers of every page: strict CSP, never cached, never framed, no referrer (the query holds state). */
export function sendPage(reply: FastifyReply, status: number, html: string, formTargets: readonly string[] = []): FastifyReply {
  return reply
    .code(status)
    .header('content-security-policy', pageCsp(formTargets))
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .type('text/html; charset=utf-8')
    .send(html);
}

/** The error page for a body the server could not read (used by the error handler too). */
export function sendUnreadableForm(reply: FastifyReply): FastifyReply {
  return sendPage(reply, 400, renderErrorPage('The sign-in form could not be read.'));
}

function redirect(reply: FastifyReply, location: string): FastifyReply {
  return reply.code(303).header('location', location).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').send();
}

const origin = (request: AuthorizationRequest): string => new URL(request.redirectUri).origin;

/** The same page again with what went wrong; the password is never written back. */
function pageFor(options: PageOptions, status: number, reply: FastifyReply): FastifyReply {
  return sendPage(reply, status, renderAuthorizePage(options), [origin(options.request)]);
}

async function submit(request: FastifyRequest, reply: FastifyReply, deps: AuthorizeRouteDeps, authorization: AuthorizationRequest): Promise<FastifyReply> {
  const body = request.body as Record<string, unknown>;
  const username = typeof body.username === 'string' ? body.username.trim().slice(0, 64) : '';
  const password = typeof body.password === 'string' ? body.password : '';
  const signUp = body.action === 'register';
  const page: PageOptions = { mode: signUp ? 'sign-up' : 'sign-in', request: authorization, username };
  const previous = sessionIdOf(request);
  try {
    const { location, session } = signUp
      ? await deps.authorize.signUp(authorization, username, password, previous)
      : await deps.authorize.signIn(authorization, username, password, previous);
    deps.metrics.authorizations.inc({ result: signUp ? 'registered' : 'signed_in' });
    // A new session replaces the one this browser had (a new id at every sign-in: no session fixation).
    const cookies = session ? sessionCookies(request, deps.cookieSecurity, session.id, session.expiresAtMs, deps.now()) : clearedSessionCookies(request, deps.cookieSecurity);
    reply.header('set-cookie', cookies);
    return redirect(reply, location);
  } catch (error) {
    const result = error instanceof Error ? error.name : 'error';
    if (error instanceof OAuthError) {
      deps.metrics.authorizations.inc({ result: 'invalid' });
      return pageFor({ ...page, message: 'Wrong username or password.' }, 400, reply);
    }
    if (error instanceof LoginLockedError) {
      deps.metrics.authorizations.inc({ result: 'locked' });
      const minutes = Math.max(1, Math.ceil(error.retryAfterSeconds / 60));
      reply.header('retry-after', String(error.retryAfterSeconds));
      return pageFor({ ...page, message: `Too many failed sign-ins for this username. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` }, 429, reply);
    }
    if (error instanceof RegistrationInvalidError) {
      deps.metrics.authorizations.inc({ result: 'invalid' });
      return pageFor({ ...page, message: 'Please correct the fields below.', fieldErrors: error.errors }, 400, reply);
    }
    if (error instanceof UsernameTakenError) {
      deps.metrics.authorizations.inc({ result: 'username_taken' });
      return pageFor({ ...page, message: 'That username is taken; choose another.', fieldErrors: [{ field: 'username', message: 'is already taken' }] }, 409, reply);
    }
    if (error instanceof OverloadedError) {
      deps.metrics.authorizations.inc({ result });
      reply.header('retry-after', String(error.retryAfterSeconds));
      return pageFor({ ...page, message: 'The service is busy. Please try again in a moment.' }, 503, reply);
    }
    throw error;
  }
}

/** Checks the request; an invalid client or redirect URI gets an error page, other problems go back to the client. */
async function handle(request: FastifyRequest, reply: FastifyReply, deps: AuthorizeRouteDeps, params: Record<string, unknown>, post: boolean): Promise<FastifyReply> {
  const check = deps.authorize.check(params);
  if (check.kind === 'fatal') return sendPage(reply, 400, renderErrorPage(check.message));
  if (check.kind === 'redirect') {
    return redirect(reply, redirectWith(check.redirectUri, { error: check.error, error_description: check.description, state: check.state }));
  }
  if (post) return submit(request, reply, deps, check.request);
  const presented = sessionIdOf(request);
  const outcome = await deps.authorize.withSession(check.request, presented);
  // A cookie that names no live session is removed from the browser.
  if (presented !== undefined && !outcome.sessionValid) reply.header('set-cookie', clearedSessionCookies(request, deps.cookieSecurity));
  if (outcome.kind === 'redirect') return redirect(reply, outcome.location);
  return pageFor({ mode: check.request.create ? 'sign-up' : 'sign-in', request: check.request }, 200, reply);
}

/**
 * GET /auth/logout: the end_session_endpoint (OIDC RP-Initiated Logout 1.0). The session ends and
 * the cookie goes whatever the parameters say; then back to a registered post_logout_redirect_uri
 * (with state), or a page saying so. An unregistered address is never redirected to.
 */
async function endSession(request: FastifyRequest, reply: FastifyReply, deps: AuthorizeRouteDeps): Promise<FastifyReply> {
  const check = deps.authorize.checkLogout(request.query as Record<string, unknown>);
  // A request outside the contract changes nothing; any other one ends the session, wherever it may go next.
  if (check.kind === 'malformed') return sendPage(reply, 400, renderErrorPage(check.message));
  await deps.authorize.signOut(sessionIdOf(request));
  reply.header('set-cookie', clearedSessionCookies(request, deps.cookieSecurity));
  if (check.kind === 'invalid') return sendPage(reply, 400, renderErrorPage(check.message));
  if (check.kind === 'page') return sendPage(reply, 200, renderSignedOutPage());
  return redirect(reply, redirectWith(check.redirectUri, { state: check.state }));
}

export function registerAuthorizeRoutes(app: FastifyInstance, deps: AuthorizeRouteDeps): void {
  app.get(END_SESSION_ROUTE, (request, reply) => endSession(request, reply, deps));
  app.get(AUTHORIZE_ROUTE, (request, reply) => handle(request, reply, deps, request.query as Record<string, unknown>, false));
  app.post(AUTHORIZE_ROUTE, (request, reply) => {
    const contentType = request.headers['content-type'] ?? '';
    if (!contentType.toLowerCase().startsWith('application/x-www-form-urlencoded') || typeof request.body !== 'object' || request.body === null) {
      return sendUnreadableForm(reply);
    }
    return handle(request, reply, deps, request.body as Record<string, unknown>, true);
  });
}
