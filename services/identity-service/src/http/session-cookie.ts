// The identity provider's session cookie. HttpOnly (no script reads it),
// SameSite=Lax (sent on the top-level navigations of the code flow, not on
// cross-site subrequests or posts), Secure when the browser speaks https, and
// scoped by Path to the two routes that read it: the same value is set once
// for /auth/authorize and once for /auth/logout (a cookie has one Path).
import type { FastifyRequest } from 'fastify';
import { AUTHORIZE_ROUTE } from './authorize-page.js';

export const SESSION_COOKIE = 'wallet_idp_session';
export const END_SESSION_ROUTE = '/auth/logout';
export const SESSION_COOKIE_PATHS = [AUTHORIZE_ROUTE, END_SESSION_ROUTE] as const;
/** Longest Cookie header read (browsers send at most ~4 KiB per cookie). */
const COOKIE_HEADER_CHARS_MAX = 16_384;

/** `true`/`false` from configuration, or `auto`: Secure when the browser reached us over https. */
export type CookieSecurity = boolean | 'auto';

/** The session cookie's value, if the request carries exactly one well-formed one. */
export function sessionIdOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header.length > COOKIE_HEADER_CHARS_MAX) return undefined;
  const values = header
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part.startsWith(`${SESSION_COOKIE}=`))
    .map((part) => part.slice(SESSION_COOKIE.length + 1));
  return values.length >= 1 ? values[0] : undefined;
}

/**
 * Whether the browser's connection is https: the gateway in front says so in
 * X-Forwarded-Proto (it may speak https to us while the browser uses http
 * locally); called directly, our own protocol decides.
 */
export function browserUsesHttps(request: FastifyRequest): boolean {
  const forwarded = request.headers['x-forwarded-proto'];
  if (typeof forwarded === 'string' && forwarded !== '') return forwarded.split(',')[0]?.trim().toLowerCase() === 'https';
  return request.protocol === 'https';
}

function attributes(request: FastifyRequest, security: CookieSecurity, path: string): string {
  const secure = security === 'auto' ? browserUsesHttps(request) : security;
  return `Path=${path}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** Set-Cookie values that store the session until its absolute expiry. */
export function sessionCookies(request: FastifyRequest, security: CookieSecurity, id: string, expiresAtMs: number, nowMs: number): string[] {
  const maxAgeSeconds = Math.max(0, Math.ceil((expiresAtMs - nowMs) / 1000));
  return SESSION_COOKIE_PATHS.map((path) => `${SESSION_COOKIE}=${id}; Max-Age=${maxAgeSeconds}; ${attributes(request, security, path)}`);
}

/** Set-Cookie values that delete the session cookie from the browser. */
export function clearedSessionCookies(request: FastifyRequest, security: CookieSecurity): string[] {
  return SESSION_COOKIE_PATHS.map((path) => `${SESSION_COOKIE}=; Max-Age=0; ${attributes(request, security, path)}`);
}
