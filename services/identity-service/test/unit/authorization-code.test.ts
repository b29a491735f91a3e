import { describe, expect, it } from 'vitest';
import {
  checkAuthorizationRequest,
  decideCodeRedemption,
  isValidVerifier,
  redirectWith,
  s256,
  type AuthorizationCodeRecord,
} from '../../src/domain/authorization-code.js';
import { escapeHtml, pageCsp, renderAuthorizePage } from '../../src/http/authorize-page.js';
import { loadIdentityConfig, webRedirectUris } from '../../src/config.js';

const CLIENTS = [{ clientId: 'wallet-web', redirectUris: ['http://localhost:8080/app/callback'] }];
// RFC 7636 appendix B.
const VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';
const VALID = {
  response_type: 'code', client_id: 'wallet-web', redirect_uri: 'http://localhost:8080/app/callback',
  code_challenge: CHALLENGE, code_challenge_method: 'S256', state: 'xyz',
};

describe('authorization request checks', () => {
  it('accepts a complete S256 request and reads prompt=create as the sign-up page', () => {
    expect(checkAuthorizationRequest(VALID, CLIENTS)).toEqual({
      kind: 'ok', request: { clientId: 'wallet-web', redirectUri: VALID.redirect_uri, codeChallenge: CHALLENGE, state: 'xyz', create: false },
    });
    const create = checkAuthorizationRequest({ ...VALID, prompt: 'create' }, CLIENTS);
    expect(create.kind === 'ok' && create.request.create).toBe(true);
  });

  it('never redirects for an unknown client or an unregistered redirect URI (RFC 6749 4.1.2.1)', () => {
    expect(checkAuthorizationRequest({ ...VALID, client_id: 'evil' }, CLIENTS).kind).toBe('fatal');
    expect(checkAuthorizationRequest({ ...VALID, redirect_uri: 'https://evil.example/cb' }, CLIENTS).kind).toBe('fatal');
    expect(checkAuthorizationRequest({ ...VALID, redirect_uri: `${VALID.redirect_uri}?x=1` }, CLIENTS).kind).toBe('fatal');
    expect(checkAuthorizationRequest({ ...VALID, client_id: ['wallet-web', 'wallet-web'] }, CLIENTS).kind).toBe('fatal');
  });

  it('sends other problems back to the client with the state: plain PKCE, missing challenge, wrong response type', () => {
    expect(checkAuthorizationRequest({ ...VALID, code_challenge_method: 'plain' }, CLIENTS)).toMatchObject({ kind: 'redirect', error: 'invalid_request', state: 'xyz' });
    expect(checkAuthorizationRequest({ ...VALID, code_challenge_method: undefined }, CLIENTS)).toMatchObject({ kind: 'redirect', error: 'invalid_request' });
    expect(checkAuthorizationRequest({ ...VALID, code_challenge: 'short' }, CLIENTS)).toMatchObject({ kind: 'redirect', error: 'invalid_request' });
    expect(checkAuthorizationRequest({ ...VALID, response_type: 'token' }, CLIENTS)).toMatchObject({ kind: 'redirect', error: 'unsupported_response_type' });
    expect(checkAuthorizationRequest({ ...VALID, state: 'x'.repeat(513) }, CLIENTS)).toMatchObject({ kind: 'redirect', error: 'invalid_request', state: undefined });
  });

  it('adds code and state to the redirect URI, keeping its own query', () => {
    expect(redirectWith('http://h/cb?a=1', { code: 'c', state: 's&t', none: undefined })).toBe('http://h/cb?a=1&code=c&state=s%26t');
  });
});

describe('code redemption decisions', () => {
  const record: AuthorizationCodeRecord = {
    clientId: 'wallet-web', redirectUri: VALID.redirect_uri, codeChallenge: CHALLENGE, userId: 'u', familyId: 'f', expiresAtMs: 1_000, usedAtMs: null,
  };
  const presented = { clientId: 'wallet-web', redirectUri: VALID.redirect_uri, codeVerifier: VERIFIER };

  it('computes S256 as RFC 7636 appendix B and checks verifier syntax', () => {
    expect(s256(VERIFIER)).toBe(CHALLENGE);
    expect(isValidVerifier(VERIFIER)).toBe(true);
    expect(isValidVerifier('too-short')).toBe(false);
    expect(isValidVerifier(`${VERIFIER}!`)).toBe(false);
  });

  it('issues once for the right client, redirect URI and verifier before expiry', () => {
    expect(decideCodeRedemption(record, presented, 999)).toEqual({ action: 'issue' });
  });

  it('refuses unknown, expired, other client, other redirect URI and a verifier that does not match', () => {
    expect(decideCodeRedemption(undefined, presented, 0)).toMatchObject({ action: 'reject', reason: 'unknown' });
    expect(decideCodeRedemption(record, presented, 1_000)).toMatchObject({ reason: 'expired' });
    expect(decideCodeRedemption(record, { ...presented, clientId: 'swagger-ui' }, 0)).toMatchObject({ reason: 'wrong_client' });
    expect(decideCodeRedemption(record, { ...presented, redirectUri: 'http://127.0.0.1:8080/app/callback' }, 0)).toMatchObject({ reason: 'wrong_redirect_uri' });
    expect(decideCodeRedemption(record, { ...presented, codeVerifier: `${VERIFIER.slice(0, -1)}A` }, 0)).toMatchObject({ reason: 'pkce_mismatch' });
    // The challenge itself is not a verifier ("plain" is refused).
    expect(decideCodeRedemption(record, { ...presented, codeVerifier: CHALLENGE }, 0)).toMatchObject({ reason: 'pkce_mismatch' });
  });

  it('revokes the family when a used code comes back, even with a correct verifier', () => {
    expect(decideCodeRedemption({ ...record, usedAtMs: 500 }, presented, 600)).toEqual({ action: 'revoke_family', reason: 'reused' });
  });
});

describe('sign-in page', () => {
  const request = { clientId: 'wallet-web', redirectUri: VALID.redirect_uri, codeChallenge: CHALLENGE, state: '"><script>alert(1)</script>', create: false };

  it('escapes every value it writes back', () => {
    const html = renderAuthorizePage({ mode: 'sign-in', request, username: '<img src=x onerror=alert(1)>' });
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain(escapeHtml(request.state));
  });

  it('has a CSP without unsafe-inline or any script source, and labelled inputs', () => {
    const csp = pageCsp(['http://localhost:8080']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('script-src');
    expect(csp).toContain("form-action 'self' http://localhost:8080");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = renderAuthorizePage({ mode: 'sign-up', request });
    expect(html).toContain('<label for="username">');
    expect(html).toContain('<label for="password">');
    expect(html).toContain('autocomplete="new-password"');
    expect(html).not.toMatch(/<script/i);
  });
});

describe('web client configuration', () => {
  it('defaults to the gateway on port 8080 for /app and /console', () => {
    const config = loadIdentityConfig({});
    expect(config.IDENTITY_WEB_CLIENT_ID).toBe('wallet-web');
    expect(webRedirectUris(config)).toEqual([
      'http://localhost:8080/app/callback', 'http://127.0.0.1:8080/app/callback',
      'http://localhost:8080/console/callback', 'http://127.0.0.1:8080/console/callback',
    ]);
    expect(config.IDENTITY_AUTHORIZATION_CODE_TTL_SECONDS).toBe(60);
  });

  it('refuses a redirect URI that is relative, has a fragment or is not http(s)', () => {
    for (const bad of ['/app/callback', 'http://h/cb#frag', 'javascript:alert(1)']) {
      expect(() => loadIdentityConfig({ IDENTITY_WEB_REDIRECT_URIS: bad })).toThrow(/IDENTITY_WEB_REDIRECT_URIS/);
    }
  });
});
