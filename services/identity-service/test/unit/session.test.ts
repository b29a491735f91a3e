import { describe, expect, it } from 'vitest';
import { loadIdentityConfig, sessionCookieSecurity, webPostLogoutRedirectUris } from '../../src/config.js';
import { checkAuthorizationRequest } from '../../src/domain/authorization-code.js';
import { checkLogoutRequest } from '../../src/domain/logout.js';
import { decideAuthorize, decideSession, hashSessionId, isSessionId, type SessionRecord } from '../../src/domain/session.js';

const POLICY = { absoluteTtlMs: 3_600_000, idleTtlMs: 600_000 };
const fingerprint = hashSessionId('a'.repeat(43));
const record = (over: Partial<SessionRecord> = {}): SessionRecord => ({
  userId: 'u1', credentialsFingerprint: fingerprint, currentFingerprint: fingerprint, lastUsedAtMs: 1_000_000, expiresAtMs: 2_000_000, ...over,
});

describe('session decisions', () => {
  it('uses a live session; ends an expired, idle or re-passworded one; knows no unknown one', () => {
    expect(decideSession(record(), 1_100_000, POLICY)).toEqual({ action: 'use' });
    expect(decideSession(record(), 2_000_000, POLICY)).toEqual({ action: 'end', reason: 'expired' });
    expect(decideSession(record(), 1_600_000, POLICY)).toEqual({ action: 'end', reason: 'idle' });
    expect(decideSession(record({ currentFingerprint: hashSessionId('b'.repeat(43)) }), 1_100_000, POLICY)).toEqual({ action: 'end', reason: 'credentials_changed' });
    expect(decideSession(record({ currentFingerprint: undefined }), 1_100_000, POLICY)).toEqual({ action: 'end', reason: 'credentials_changed' });
    expect(decideSession(undefined, 1_100_000, POLICY)).toEqual({ action: 'none', reason: 'unknown' });
  });

  it('GET /authorize: a session gives a code unless prompt asks for the form; prompt=none never shows one', () => {
    expect(decideAuthorize(undefined, true)).toEqual({ action: 'code' });
    expect(decideAuthorize(undefined, false)).toEqual({ action: 'form' });
    expect(decideAuthorize('login', true)).toEqual({ action: 'form' });
    expect(decideAuthorize('create', true)).toEqual({ action: 'form' });
    expect(decideAuthorize('none', true)).toEqual({ action: 'code' });
    expect(decideAuthorize('none', false)).toEqual({ action: 'login_required' });
  });

  it('accepts only 43-character base64url session ids', () => {
    expect(isSessionId('A'.repeat(43))).toBe(true);
    expect(isSessionId('A'.repeat(42))).toBe(false);
    expect(isSessionId(`${'A'.repeat(42)}=`)).toBe(false);
  });

  it('reads prompt=none; refuses other prompt values', () => {
    const base = { response_type: 'code', client_id: 'web', redirect_uri: 'http://x/cb', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' };
    const clients = [{ clientId: 'web', redirectUris: ['http://x/cb'] }];
    expect(checkAuthorizationRequest({ ...base, prompt: 'none' }, clients)).toMatchObject({ kind: 'ok', request: { prompt: 'none', create: false } });
    expect(checkAuthorizationRequest({ ...base, prompt: 'consent' }, clients)).toMatchObject({ kind: 'redirect', error: 'invalid_request' });
  });
});

describe('sign-out request (RP-Initiated Logout)', () => {
  const clients = [{ clientId: 'web', postLogoutRedirectUris: ['http://localhost:8080/app/'] }];
  it('redirects only to a URI registered for the named client, exactly', () => {
    expect(checkLogoutRequest({ client_id: 'web', post_logout_redirect_uri: 'http://localhost:8080/app/', state: 's' }, clients)).toEqual({ kind: 'redirect', redirectUri: 'http://localhost:8080/app/', state: 's' });
    expect(checkLogoutRequest({}, clients)).toEqual({ kind: 'page' });
    expect(checkLogoutRequest({ client_id: 'web', post_logout_redirect_uri: 'http://localhost:8080/app' }, clients).kind).toBe('invalid');
    expect(checkLogoutRequest({ post_logout_redirect_uri: 'http://localhost:8080/app/' }, clients).kind).toBe('invalid');
    expect(checkLogoutRequest({ client_id: 'web', post_logout_redirect_uri: ['http://localhost:8080/app/'] }, clients).kind).toBe('malformed');
  });

  it('refuses a query outside the contract (too long or repeated) as malformed, before any other check', () => {
    // Schemathesis found a 513-character state answered 200 with the signed-out page.
    expect(checkLogoutRequest({ state: 's'.repeat(513) }, clients)).toEqual({ kind: 'malformed', message: 'state must be one value of at most 512 characters.' });
    expect(checkLogoutRequest({ client_id: 'c'.repeat(65), post_logout_redirect_uri: 'http://localhost:8080/app/' }, clients).kind).toBe('malformed');
    expect(checkLogoutRequest({ post_logout_redirect_uri: `http://localhost:8080/${'a'.repeat(500)}` }, clients).kind).toBe('malformed');
    expect(checkLogoutRequest({ state: ['a', 'b'] }, clients).kind).toBe('malformed');
    expect(checkLogoutRequest({ state: 's'.repeat(512) }, clients)).toEqual({ kind: 'page' });
  });
});

describe('session configuration', () => {
  const base = { DATABASE_URL: 'postgres://u:p@localhost/db' };
  it('defaults: 12 h absolute, 30 min idle, post-logout URIs from the redirect URIs, Secure decided per request', () => {
    const config = loadIdentityConfig(base);
    expect(config.IDENTITY_SESSION_ABSOLUTE_TTL_SECONDS).toBe(43_200);
    expect(config.IDENTITY_SESSION_IDLE_TTL_SECONDS).toBe(1_800);
    expect(webPostLogoutRedirectUris(config)).toContain('http://localhost:8080/app/');
    expect(webPostLogoutRedirectUris(config)).toContain('http://127.0.0.1:8080/console/');
    expect(sessionCookieSecurity(config)).toBe('auto');
    expect(sessionCookieSecurity({ ...config, NODE_ENV: 'production' })).toBe(true);
  });

  it('refuses an idle period longer than the absolute one; an explicit Secure setting wins outside production', () => {
    expect(() => loadIdentityConfig({ ...base, IDENTITY_SESSION_ABSOLUTE_TTL_SECONDS: '600', IDENTITY_SESSION_IDLE_TTL_SECONDS: '1200' })).toThrow(/IDENTITY_SESSION_IDLE_TTL_SECONDS/);
    expect(sessionCookieSecurity(loadIdentityConfig({ ...base, IDENTITY_SESSION_COOKIE_SECURE: 'false' }))).toBe(false);
    expect(sessionCookieSecurity(loadIdentityConfig({ ...base, IDENTITY_SESSION_COOKIE_SECURE: 'true' }))).toBe(true);
  });
});
