// The identity provider's browser session (issue 16: a page reload keeps the
// user signed in): the cookie the sign-in page sets, GET /authorize with and
// without it (prompt none/login/create), its absolute and idle expiry, sign-out
// at the end_session_endpoint, and a changed password, on real PostgreSQL.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_USERS } from '../../src/app/users.js';
import { get, postForm, startHarness, testFetch, type Harness } from '../support/harness.js';

const [alice, bob] = DEV_USERS;
const CLIENT_ID = 'wallet-web';
const REDIRECT_URI = 'http://localhost:8080/app/callback';
const POST_LOGOUT_URI = 'http://localhost:8080/app/';
const ABSOLUTE_TTL_SECONDS = 3_600;
const IDLE_TTL_SECONDS = 1_800;
const MINUTE_MS = 60_000;

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

const authorizeQuery = (challenge: string, extra: Record<string, string> = {}) =>
  new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, code_challenge: challenge, code_challenge_method: 'S256', state: 'st-9', ...extra }).toString();

interface Answer {
  status: number;
  location: URL | undefined;
  setCookies: string[];
  html: string;
}

async function call(url: string, init: { method?: string; cookie?: string; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...init.headers };
  if (init.cookie !== undefined) headers.cookie = `other=1; wallet_idp_session=${init.cookie}`;
  if (init.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await testFetch(url, { method: init.method ?? 'GET', redirect: 'manual', headers, ...(init.body === undefined ? {} : { body: init.body }) });
  const location = res.headers.get('location');
  return { status: res.status, location: location ? new URL(location) : undefined, setCookies: res.headers.getSetCookie(), html: await res.text() };
}

const sessionValue = (answer: Answer): string | undefined => /^wallet_idp_session=([^;]*)/.exec(answer.setCookies[0] ?? '')?.[1];

describe('identity-provider session (sign-in page cookie)', () => {
  let h: Harness;
  const authorize = (cookie: string | undefined, extra: Record<string, string> = {}, challenge = pkce().challenge) =>
    call(`${h.url}/auth/authorize?${authorizeQuery(challenge, extra)}`, cookie === undefined ? {} : { cookie });
  /** Signs in on the page; the session id from the cookie it sets. */
  const signIn = async (user: { username: string; password: string } = alice, headers: Record<string, string> = {}) => {
    const body = `${authorizeQuery(pkce().challenge)}&${new URLSearchParams({ username: user.username, password: user.password }).toString()}`;
    const answer = await call(`${h.url}/auth/authorize`, { method: 'POST', body, headers });
    expect(answer.status).toBe(303);
    return { answer, id: sessionValue(answer)! };
  };
  const sessionRows = async () => (await h.service.pool.query<{ session_hash: Buffer; user_id: string }>('SELECT session_hash, user_id FROM identity.sessions')).rows;

  beforeAll(async () => {
    h = await startHarness({
      IDENTITY_SEED_DEV_USERS: 'true',
      IDENTITY_SESSION_ABSOLUTE_TTL_SECONDS: String(ABSOLUTE_TTL_SECONDS),
      IDENTITY_SESSION_IDLE_TTL_SECONDS: String(IDLE_TTL_SECONDS),
    });
  });
  afterAll(async () => h?.stop());

  it('discovery lists the end_session_endpoint and prompt=none', async () => {
    const doc = (await get(`${h.url}/.well-known/openid-configuration`)).body;
    expect(doc.end_session_endpoint).toBe(`${h.url}/auth/logout`);
    expect(doc.prompt_values_supported).toEqual(['none', 'login', 'create']);
  });

  it('a sign-in on the page sets an HttpOnly, SameSite=Lax, Secure cookie scoped to authorize and logout, and stores only its SHA-256', async () => {
    const { answer, id } = await signIn();
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.setCookies).toEqual([
      `wallet_idp_session=${id}; Max-Age=${ABSOLUTE_TTL_SECONDS}; Path=/auth/authorize; HttpOnly; SameSite=Lax; Secure`,
      `wallet_idp_session=${id}; Max-Age=${ABSOLUTE_TTL_SECONDS}; Path=/auth/logout; HttpOnly; SameSite=Lax; Secure`,
    ]);
    const hash = createHash('sha256').update(id).digest();
    const row = (await sessionRows()).find((r) => r.session_hash.equals(hash));
    expect(row?.user_id).toBe(alice.userId);
    const dump = JSON.stringify((await h.service.pool.query('SELECT * FROM identity.sessions')).rows);
    expect(dump).not.toContain(id);
  });

  it('the cookie has no Secure attribute when the gateway says the browser speaks plain http (local npm start)', async () => {
    const { answer } = await signIn(alice, { 'x-forwarded-proto': 'http' });
    expect(answer.setCookies).toHaveLength(2);
    for (const cookie of answer.setCookies) expect(cookie).not.toContain('Secure');
  });

  it('GET /authorize with a valid session issues the code at once (no form), and the code gives the same user tokens', async () => {
    const { id } = await signIn();
    const p = pkce();
    const answer = await authorize(id, {}, p.challenge);
    expect(answer.status).toBe(303);
    expect(answer.html).toBe('');
    expect(answer.location?.searchParams.get('state')).toBe('st-9');
    const code = answer.location?.searchParams.get('code');
    const tokens = await postForm(`${h.url}/auth/token`, { grant_type: 'authorization_code', code: String(code), redirect_uri: REDIRECT_URI, client_id: CLIENT_ID, code_verifier: p.verifier });
    expect(tokens.status).toBe(200);
    const claims = JSON.parse(Buffer.from(String(tokens.body.access_token).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(claims.sub).toBe(alice.userId);
  });

  it('prompt=login and prompt=create show the form even with a session', async () => {
    const { id } = await signIn();
    const login = await authorize(id, { prompt: 'login' });
    expect(login.status).toBe(200);
    expect(login.html).toContain('Sign in to your wallet');
    const create = await authorize(id, { prompt: 'create' });
    expect(create.status).toBe(200);
    expect(create.html).toContain('Create your wallet account');
  });

  it('prompt=none: a code with a session; without one login_required back to the client with state, never a form', async () => {
    const { id } = await signIn();
    const withSession = await authorize(id, { prompt: 'none' });
    expect(withSession.status).toBe(303);
    expect(withSession.location?.searchParams.get('code')).toMatch(/.{20,}/);

    const without = await authorize(undefined, { prompt: 'none' });
    expect(without.status).toBe(303);
    expect(`${without.location?.origin}${without.location?.pathname}`).toBe(REDIRECT_URI);
    expect(without.location?.searchParams.get('error')).toBe('login_required');
    expect(without.location?.searchParams.get('state')).toBe('st-9');
    expect(without.location?.searchParams.get('code')).toBeNull();
    expect(without.html).toBe('');
  });

  it('an unknown or malformed cookie is no session: login_required, and the browser is told to drop it', async () => {
    for (const cookie of [randomBytes(32).toString('base64url'), 'not-a-session']) {
      const answer = await authorize(cookie, { prompt: 'none' });
      expect(answer.location?.searchParams.get('error')).toBe('login_required');
      expect(answer.setCookies).toHaveLength(2);
      for (const set of answer.setCookies) expect(set).toMatch(/^wallet_idp_session=; Max-Age=0; Path=\/auth\/(authorize|logout); HttpOnly/);
    }
  });

  it('a session unused for the idle period ends; one in use ends at its absolute expiry', async () => {
    const idle = await signIn();
    h.clock.advance(IDLE_TTL_SECONDS * 1000 + MINUTE_MS);
    expect((await authorize(idle.id, { prompt: 'none' })).location?.searchParams.get('error')).toBe('login_required');

    const busy = await signIn();
    // Used every 20 minutes: never idle, yet gone after the absolute lifetime (60 minutes).
    for (let minutes = 20; minutes < ABSOLUTE_TTL_SECONDS / 60; minutes += 20) {
      h.clock.advance(20 * MINUTE_MS);
      expect((await authorize(busy.id, { prompt: 'none' })).location?.searchParams.get('code')).toBeTruthy();
    }
    h.clock.advance(20 * MINUTE_MS);
    const expired = await authorize(busy.id, { prompt: 'none' });
    expect(expired.location?.searchParams.get('error')).toBe('login_required');
    const hashes = (await sessionRows()).map((r) => r.session_hash);
    for (const id of [idle.id, busy.id]) expect(hashes.some((hash) => hash.equals(createHash('sha256').update(id).digest()))).toBe(false);
  });

  it('a second sign-in in the same browser replaces its session (a new id; the old one is dead)', async () => {
    const first = await signIn();
    const body = `${authorizeQuery(pkce().challenge)}&${new URLSearchParams({ username: bob.username, password: bob.password }).toString()}`;
    const second = await call(`${h.url}/auth/authorize`, { method: 'POST', body, cookie: first.id });
    const secondId = sessionValue(second)!;
    expect(secondId).not.toBe(first.id);
    expect((await authorize(first.id, { prompt: 'none' })).location?.searchParams.get('error')).toBe('login_required');
    expect((await authorize(secondId, { prompt: 'none' })).location?.searchParams.get('code')).toBeTruthy();
  });

  it('sign-out at the end_session_endpoint deletes the session, clears the cookie and returns to the registered URI with state', async () => {
    const { id } = await signIn();
    const query = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: POST_LOGOUT_URI, state: 'bye-1' });
    const answer = await call(`${h.url}/auth/logout?${query.toString()}`, { cookie: id });
    expect(answer.status).toBe(303);
    expect(answer.location?.toString()).toBe(`${POST_LOGOUT_URI}?state=bye-1`);
    expect(answer.setCookies.map((c) => c.split(';').slice(0, 3).join(';'))).toEqual([
      'wallet_idp_session=; Max-Age=0; Path=/auth/authorize',
      'wallet_idp_session=; Max-Age=0; Path=/auth/logout',
    ]);
    expect((await authorize(id, { prompt: 'none' })).location?.searchParams.get('error')).toBe('login_required');
    expect((await authorize(id)).status).toBe(200); // the form again
  });

  it('a sign-out request outside the contract (a state over 512 characters) is 400 and leaves the session as it was', async () => {
    const { id } = await signIn();
    const query = new URLSearchParams({ client_id: CLIENT_ID, post_logout_redirect_uri: POST_LOGOUT_URI, state: 's'.repeat(513) });
    const answer = await call(`${h.url}/auth/logout?${query.toString()}`, { cookie: id });
    expect(answer.status).toBe(400);
    expect(answer.location).toBeUndefined();
    expect(answer.setCookies).toEqual([]);
    expect((await authorize(id, { prompt: 'none' })).location?.searchParams.get('code')).toBeTruthy();
  });

  it('sign-out never redirects to an unregistered address (but still ends the session); without one it shows a page', async () => {
    const { id } = await signIn();
    const attempts: Record<string, string>[] = [
      { client_id: CLIENT_ID, post_logout_redirect_uri: 'https://evil.example/' },
      { client_id: CLIENT_ID, post_logout_redirect_uri: `${POST_LOGOUT_URI}x` },
      { client_id: 'someone-else', post_logout_redirect_uri: POST_LOGOUT_URI },
      { post_logout_redirect_uri: POST_LOGOUT_URI },
    ];
    for (const params of attempts) {
      const answer = await call(`${h.url}/auth/logout?${new URLSearchParams(params).toString()}`, { cookie: id });
      expect(answer.status).toBe(400);
      expect(answer.location).toBeUndefined();
    }
    expect((await authorize(id, { prompt: 'none' })).location?.searchParams.get('error')).toBe('login_required');
    const page = await call(`${h.url}/auth/logout`);
    expect(page.status).toBe(200);
    expect(page.html).toContain('You are signed out');
  });

  it("a changed password ends the user's sessions; other users' sessions live on", async () => {
    const user = { username: `pw-change-${randomBytes(4).toString('hex')}`, password: `pw-${randomBytes(12).toString('hex')}` };
    const body = `${authorizeQuery(pkce().challenge)}&${new URLSearchParams({ ...user, action: 'register' }).toString()}`;
    const registered = await call(`${h.url}/auth/authorize`, { method: 'POST', body });
    const userSession = sessionValue(registered)!;
    const other = await signIn(bob);
    await h.service.pool.query("UPDATE identity.users SET password_hash = password_hash || 'x' WHERE username = $1", [user.username]);
    expect((await authorize(userSession, { prompt: 'none' })).location?.searchParams.get('error')).toBe('login_required');
    expect((await authorize(other.id, { prompt: 'none' })).location?.searchParams.get('code')).toBeTruthy();
  });

  it('never logs a session id', async () => {
    const { id } = await signIn();
    await authorize(id, { prompt: 'none' });
    await call(`${h.url}/auth/logout?client_id=${CLIENT_ID}&post_logout_redirect_uri=${encodeURIComponent(POST_LOGOUT_URI)}`, { cookie: id });
    expect(h.logs.length).toBeGreaterThan(0);
    expect(h.logs.filter((line) => line.includes(id))).toEqual([]);
  });
});
