import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AuthSession, CLIENT_ID } from '../../src/lib/auth';

interface Call {
  path: string;
  form: Record<string, string>;
}

/** The browser globals AuthSession uses, faked: fetch answers token requests from a script. */
function fakeBrowser(answers: ((call: Call) => { status: number; body: unknown })[]) {
  const calls: Call[] = [];
  const storage = new Map<string, string>();
  const assigned: string[] = [];
  vi.stubGlobal('location', { origin: 'http://localhost:8080', assign: (url: string) => assigned.push(url) });
  vi.stubGlobal('sessionStorage', {
    getItem: (k: string) => storage.get(k) ?? null,
    setItem: (k: string, v: string) => storage.set(k, v),
    removeItem: (k: string) => storage.delete(k),
  });
  vi.stubGlobal('fetch', async (path: string, init: { body: string }) => {
    const call = { path, form: Object.fromEntries(new URLSearchParams(init.body)) };
    calls.push(call);
    const answer = answers.shift();
    if (!answer) throw new Error(`unexpected call to ${path}`);
    const { status, body } = answer(call);
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  });
  return { calls, storage, assigned };
}

const tokens = (access: string, refresh: string, expiresIn = 900) => () => ({
  status: 200,
  body: { access_token: access, token_type: 'Bearer', expires_in: expiresIn, refresh_token: refresh },
});

async function signedIn(session: AuthSession, browser: ReturnType<typeof fakeBrowser>) {
  await session.startSignIn('/app/send');
  const url = new URL(browser.assigned[0]!);
  return session.completeSignIn(`?code=the-code&state=${url.searchParams.get('state')}`);
}

describe('the browser session (tokens in memory)', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] }));
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('exchanges the code with the verifier and redirect URI it sent, then forgets the pending sign-in', async () => {
    const browser = fakeBrowser([tokens('access-1', 'refresh-1')]);
    const session = new AuthSession('/app');
    expect(await signedIn(session, browser)).toBe('/app/send');
    const authorize = new URL(browser.assigned[0]!);
    expect(authorize.pathname).toBe('/auth/authorize');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const [exchange] = browser.calls;
    expect(exchange!.path).toBe('/auth/token');
    expect(exchange!.form).toMatchObject({ grant_type: 'authorization_code', code: 'the-code', client_id: CLIENT_ID, redirect_uri: 'http://localhost:8080/app/callback' });
    expect(exchange!.form.code_verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(browser.storage.size).toBe(0);
    expect(await session.accessToken()).toBe('access-1');
  });

  it('refuses a callback whose state is not the one it sent, without calling the token endpoint', async () => {
    const browser = fakeBrowser([]);
    const session = new AuthSession('/app');
    await session.startSignIn('/app/');
    await expect(session.completeSignIn('?code=x&state=forged')).rejects.toThrow(/does not match/);
    expect(browser.calls).toEqual([]);
    expect(session.signedIn).toBe(false);
  });

  it('refreshes once, silently, before the access token expires', async () => {
    const browser = fakeBrowser([tokens('access-1', 'refresh-1', 120), tokens('access-2', 'refresh-2', 900)]);
    const session = new AuthSession('/app');
    await signedIn(session, browser);
    await vi.advanceTimersByTimeAsync(61_000);
    expect(browser.calls[1]!.form).toEqual({ grant_type: 'refresh_token', refresh_token: 'refresh-1', client_id: CLIENT_ID });
    expect(await session.accessToken()).toBe('access-2');
    expect(browser.calls).toHaveLength(2);
  });

  it('ends the session when the refresh token is refused', async () => {
    const browser = fakeBrowser([tokens('access-1', 'refresh-1', 30), () => ({ status: 400, body: { error: 'invalid_grant' } })]);
    const session = new AuthSession('/app');
    await signedIn(session, browser);
    await expect(session.accessToken()).rejects.toThrow();
    expect(session.signedIn).toBe(false);
  });

  it('revokes the refresh token on sign-out and forgets every token', async () => {
    const browser = fakeBrowser([tokens('access-1', 'refresh-1'), () => ({ status: 200, body: {} })]);
    const session = new AuthSession('/app');
    await signedIn(session, browser);
    await session.signOut();
    expect(browser.calls[1]).toEqual({ path: '/auth/revoke', form: { token: 'refresh-1', token_type_hint: 'refresh_token', client_id: CLIENT_ID } });
    expect(session.signedIn).toBe(false);
    await expect(session.accessToken()).rejects.toThrow(/Sign in/);
  });

  it("then ends the identity provider's session: to its end_session_endpoint, back to this app's start page", async () => {
    const browser = fakeBrowser([tokens('access-1', 'refresh-1'), () => ({ status: 200, body: {} })]);
    const session = new AuthSession('/console');
    await signedIn(session, browser);
    await session.signOut();
    const logout = new URL(browser.assigned[1]!);
    expect(logout.pathname).toBe('/auth/logout');
    expect(Object.fromEntries(logout.searchParams)).toEqual({ client_id: CLIENT_ID, post_logout_redirect_uri: 'http://localhost:8080/console/' });
  });
});

describe('silent sign-in on a page load (prompt=none)', () => {
  afterEach(() => vi.unstubAllGlobals());
  /** startSignIn hashes the verifier (WebCrypto) before it leaves: wait for the navigation. */
  const left = (browser: { assigned: string[] }, count = 1) => vi.waitFor(() => expect(browser.assigned).toHaveLength(count));

  it('leaves once for the identity provider with prompt=none, and keeps the path to return to', async () => {
    const browser = fakeBrowser([]);
    const session = new AuthSession('/app');
    expect(session.resumeOnLoad('/app/history')).toBe(true);
    await left(browser);
    const authorize = new URL(browser.assigned[0]!);
    expect(authorize.searchParams.get('prompt')).toBe('none');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    // The callback says login_required: signed out, back where the user was, no token request.
    expect(await session.completeSignIn(`?error=login_required&state=${authorize.searchParams.get('state')}`)).toBe('/app/history');
    expect(session.signedIn).toBe(false);
    expect(browser.calls).toEqual([]);
    expect(browser.storage.size).toBe(0);
  });

  it('never loops: a load that finds an attempt still marked away does not leave again (and the next load may)', async () => {
    const browser = fakeBrowser([]);
    const first = new AuthSession('/app');
    expect(first.resumeOnLoad('/app/')).toBe(true);
    await left(browser);
    // Back without a callback (the provider showed an error page, the user went back): no second trip.
    expect(new AuthSession('/app').resumeOnLoad('/app/')).toBe(false);
    expect(browser.assigned).toHaveLength(1);
    expect(new AuthSession('/app').resumeOnLoad('/app/')).toBe(true);
    await left(browser, 2);
  });

  it('a silent sign-in with a session exchanges its code like any other', async () => {
    const browser = fakeBrowser([tokens('access-1', 'refresh-1')]);
    const session = new AuthSession('/app');
    session.resumeOnLoad('/app/send');
    await left(browser);
    const state = new URL(browser.assigned[0]!).searchParams.get('state');
    expect(await session.completeSignIn(`?code=c&state=${state}`)).toBe('/app/send');
    expect(await session.accessToken()).toBe('access-1');
  });
});
