import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '../../src/app/users.js';
import { get, passwordLogin, postForm, startHarness, testFetch, type Harness, type HttpAnswer } from '../support/harness.js';

const alice = DEV_USERS[0];
const bob = DEV_USERS[1];
const CLIENT_ID = 'wallet-web';
const REDIRECT_URI = 'http://localhost:8080/app/callback';
const FAILURES_MAX = 3;

interface Pkce {
  verifier: string;
  challenge: string;
}
const pkce = (): Pkce => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

const authorizeParams = (p: Pkce, extra: Record<string, string> = {}): Record<string, string> => ({
  response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, code_challenge: p.challenge, code_challenge_method: 'S256', state: 'st-1', ...extra,
});

interface PageAnswer {
  status: number;
  headers: Headers;
  html: string;
}

async function page(h: Harness, params: Record<string, string>): Promise<PageAnswer> {
  const res = await testFetch(`${h.url}/auth/authorize?${new URLSearchParams(params).toString()}`, { redirect: 'manual' });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

async function submit(h: Harness, params: Record<string, string>): Promise<PageAnswer> {
  const res = await testFetch(`${h.url}/auth/authorize`, {
    method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params).toString(),
  });
  return { status: res.status, headers: res.headers, html: await res.text() };
}

/** Signs in on the page; the code from the 303's Location. */
async function codeFor(h: Harness, p: Pkce, username = alice.username, password: string = alice.password): Promise<string> {
  const res = await submit(h, { ...authorizeParams(p), username, password });
  expect(res.status).toBe(303);
  const location = new URL(String(res.headers.get('location')));
  expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
  expect(location.searchParams.get('state')).toBe('st-1');
  return String(location.searchParams.get('code'));
}

const exchange = (h: Harness, code: string, verifier: string, extra: Record<string, string> = {}): Promise<HttpAnswer> =>
  postForm(`${h.url}/auth/token`, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, code_verifier: verifier, ...extra });

const refreshAs = (h: Harness, token: string): Promise<HttpAnswer> =>
  postForm(`${h.url}/auth/token`, { grant_type: 'refresh_token', refresh_token: token, client_id: CLIENT_ID });

describe('authorization code flow with PKCE (wallet-web)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true', IDENTITY_LOGIN_FAILURES_MAX: String(FAILURES_MAX) });
  });
  afterAll(async () => h?.stop());

  it('discovery lists the authorization and revocation endpoints, S256 only and the authorization_code grant', async () => {
    const doc = (await get(`${h.url}/.well-known/openid-configuration`)).body;
    expect(doc).toMatchObject({
      authorization_endpoint: `${h.url}/auth/authorize`,
      revocation_endpoint: `${h.url}/auth/revoke`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
    });
    expect(doc.grant_types_supported).toContain('authorization_code');
  });

  it('serves the sign-in page with a strict CSP (no script, no unsafe-inline), labelled inputs and the request in hidden fields', async () => {
    const p = pkce();
    const res = await page(h, authorizeParams(p));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const csp = String(res.headers.get('content-security-policy'));
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.html).toContain('<form method="post" action="/auth/authorize"');
    expect(res.html).toContain('<label for="username">Username</label>');
    expect(res.html).toContain('<label for="password">Password</label>');
    expect(res.html).toContain(`name="code_challenge" value="${p.challenge}"`);
    expect(res.html).not.toMatch(/<script/i);
    expect(res.html).toContain('prompt=create'); // the sign-up link
    const signUp = await page(h, authorizeParams(p, { prompt: 'create' }));
    expect(signUp.html).toContain('Create your wallet account');
    expect(signUp.html).toContain('name="action" value="register"');
  });

  it('signs in on the page and exchanges the code for the same token response as the password grant', async () => {
    const p = pkce();
    const tokens = await exchange(h, await codeFor(h, p), p.verifier);
    expect(tokens.status).toBe(200);
    expect(tokens.headers.get('cache-control')).toBe('no-store');
    expect(tokens.body).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'wallet' });
    const claims = decodeJwt(String(tokens.body.access_token));
    expect(claims).toMatchObject({ sub: alice.userId, username: 'alice', roles: ['customer'], client_id: CLIENT_ID });
    const password = await passwordLogin(h, bob.username, bob.password);
    expect(Object.keys(tokens.body).sort()).toEqual(Object.keys(password.body).sort());
    // Its refresh token rotates for the same client.
    expect((await refreshAs(h, String(tokens.body.refresh_token))).status).toBe(200);
  });

  it('refuses a code_verifier that does not match the challenge, and the code is then used up', async () => {
    const p = pkce();
    const code = await codeFor(h, p);
    const wrong = await exchange(h, code, pkce().verifier);
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toBe('invalid_grant');
    expect((await exchange(h, code, p.verifier)).body.error).toBe('invalid_grant');
  });

  it('a second use of a code fails and revokes the tokens the first use issued (RFC 6749 10.5)', async () => {
    const p = pkce();
    const code = await codeFor(h, p);
    const first = await exchange(h, code, p.verifier);
    expect(first.status).toBe(200);
    const second = await exchange(h, code, p.verifier);
    expect(second.status).toBe(400);
    expect(second.body.error).toBe('invalid_grant');
    expect((await refreshAs(h, String(first.body.refresh_token))).body.error).toBe('invalid_grant');
  });

  it('two concurrent exchanges of one code: at most one gets tokens, and those are revoked', async () => {
    const p = pkce();
    const code = await codeFor(h, p);
    const results = await Promise.all([exchange(h, code, p.verifier), exchange(h, code, p.verifier)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
    const winner = results.find((r) => r.status === 200);
    expect((await refreshAs(h, String(winner?.body.refresh_token))).body.error).toBe('invalid_grant');
  });

  it('refuses an expired code (60 s lifetime)', async () => {
    const p = pkce();
    const code = await codeFor(h, p);
    h.clock.advance(61_000);
    try {
      expect((await exchange(h, code, p.verifier)).body.error).toBe('invalid_grant');
    } finally {
      h.clock.advance(-61_000);
    }
  });

  it('binds the code to its redirect_uri and client', async () => {
    const p = pkce();
    const code = await codeFor(h, p);
    expect((await exchange(h, code, p.verifier, { redirect_uri: 'http://127.0.0.1:8080/app/callback' })).body.error).toBe('invalid_grant');
    const q = pkce();
    const other = await codeFor(h, q);
    expect((await exchange(h, other, q.verifier, { client_id: 'swagger-ui' })).body.error).toBe('invalid_grant');
    expect((await exchange(h, 'no-such-code', q.verifier)).body.error).toBe('invalid_grant');
  });

  it('shows an error page and never redirects for an unknown client or an unregistered redirect_uri', async () => {
    const p = pkce();
    for (const params of [authorizeParams(p, { client_id: 'evil-client' }), authorizeParams(p, { redirect_uri: 'https://evil.example/callback' })]) {
      const shown = await page(h, params);
      expect(shown.status).toBe(400);
      expect(shown.headers.get('location')).toBeNull();
      expect(shown.html).toContain('This sign-in link does not work');
      const posted = await submit(h, { ...params, username: alice.username, password: alice.password });
      expect(posted.status).toBe(400);
      expect(posted.headers.get('location')).toBeNull();
    }
  });

  it('sends other request errors back to the client: plain PKCE is refused', async () => {
    const res = await page(h, authorizeParams(pkce(), { code_challenge_method: 'plain' }));
    expect(res.status).toBe(303);
    const location = new URL(String(res.headers.get('location')));
    expect(location.searchParams.get('error')).toBe('invalid_request');
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.get('code')).toBeNull();
  });

  it('a wrong password re-renders the page (never the password) and counts toward the lockout the password grant shares', async () => {
    const p = pkce();
    const wrongPassword = 'not-bobs-password-at-all';
    const wrong = await submit(h, { ...authorizeParams(p), username: bob.username, password: wrongPassword });
    expect(wrong.status).toBe(400);
    expect(wrong.html).toContain('Wrong username or password.');
    expect(wrong.html).toContain('value="bob"');
    expect(wrong.html).not.toContain(wrongPassword);
    for (let i = 1; i < FAILURES_MAX; i += 1) await submit(h, { ...authorizeParams(p), username: bob.username, password: wrongPassword });
    const locked = await submit(h, { ...authorizeParams(p), username: bob.username, password: bob.password });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(locked.html).toContain('Too many failed sign-ins');
    expect((await passwordLogin(h, bob.username, bob.password)).status).toBe(429);
  });

  it('signs a new user up on the page and signs them in with a code; a taken or invalid username re-renders the form', async () => {
    const p = pkce();
    const params = { ...authorizeParams(p), action: 'register', username: 'newcomer', password: 'newcomer-password-1' };
    const created = await submit(h, params);
    expect(created.status).toBe(303);
    const code = String(new URL(String(created.headers.get('location'))).searchParams.get('code'));
    const tokens = await exchange(h, code, p.verifier);
    expect(decodeJwt(String(tokens.body.access_token))).toMatchObject({ username: 'newcomer', roles: ['customer'] });
    const taken = await submit(h, params);
    expect(taken.status).toBe(409);
    expect(taken.html).toContain('is already taken');
    const invalid = await submit(h, { ...params, username: 'X', password: 'short' });
    expect(invalid.status).toBe(400);
    expect(invalid.html).toContain('id="username-error"');
    expect(invalid.html).toContain('id="password-error"');
    expect(invalid.html).toContain('aria-invalid="true"');
  });

  it('an unreadable form gets an HTML error page, not a redirect', async () => {
    const res = await testFetch(`${h.url}/auth/authorize`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=1&a=2' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('text/html');
    const json = await testFetch(`${h.url}/auth/authorize`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(400);
    expect(json.headers.get('location')).toBeNull();
  });

  it('wallet-web may not use the password grant (no password grant in the browser)', async () => {
    const res = await passwordLogin(h, alice.username, alice.password, { client_id: CLIENT_ID });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('unauthorized_client');
  });

  it('revokes a refresh token and its family (RFC 7009): 200, also for an unknown token; another client may not', async () => {
    const p = pkce();
    const tokens = await exchange(h, await codeFor(h, p), p.verifier);
    const refreshToken = String(tokens.body.refresh_token);
    const otherClient = await postForm(`${h.url}/auth/revoke`, { token: refreshToken, client_id: 'swagger-ui' });
    expect(otherClient.status).toBe(400);
    expect(otherClient.body.error).toBe('unauthorized_client');
    const rotated = await refreshAs(h, refreshToken);
    expect(rotated.status).toBe(200);
    const revoked = await postForm(`${h.url}/auth/revoke`, { token: String(rotated.body.refresh_token), client_id: CLIENT_ID, token_type_hint: 'refresh_token' });
    expect(revoked.status).toBe(200);
    expect((await refreshAs(h, String(rotated.body.refresh_token))).body.error).toBe('invalid_grant');
    expect((await postForm(`${h.url}/auth/revoke`, { token: 'unknown-token', client_id: CLIENT_ID })).status).toBe(200);
    expect((await postForm(`${h.url}/auth/revoke`, { client_id: CLIENT_ID })).body.error).toBe('invalid_request');
  });

  it('logs no password, code, verifier or token of the page flow, at trace level', async () => {
    const p = pkce();
    const password = 'page-flow-secret-password';
    const created = await submit(h, { ...authorizeParams(p), action: 'register', username: 'logcheck', password });
    const code = String(new URL(String(created.headers.get('location'))).searchParams.get('code'));
    const tokens = await exchange(h, code, p.verifier);
    await exchange(h, code, p.verifier); // reuse
    await submit(h, { ...authorizeParams(p), username: 'logcheck', password: 'wrong-page-password-1' });
    await postForm(`${h.url}/auth/revoke`, { token: String(tokens.body.refresh_token), client_id: CLIENT_ID });
    const secrets = [password, 'wrong-page-password-1', code, p.verifier, String(tokens.body.access_token), String(tokens.body.refresh_token)];
    expect(h.logs.length).toBeGreaterThan(5);
    for (const secret of secrets) expect(h.logs.find((line) => line.includes(secret)), `a secret (${secret.length} chars) was logged`).toBeUndefined();
  });
});
