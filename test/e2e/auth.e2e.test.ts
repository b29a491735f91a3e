// Identity and access end to end (issue 10), over REST only, against the real
// identity-service behind the gateway: every row of the contract (register,
// token grants, refresh rotation and reuse detection, logout, 401 variants,
// ownership, roles, /me, POST /accounts, rate limits, brute-force lockout),
// the OWASP API Security Top 10 items that apply (named in the titles), and
// no secret in any service's log. One system for the whole file.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@wallet/testkit';
import { decodeJwt, decodeProtectedHeader, exportSPKI, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestIssuer, type TestIssuer } from '../support/test-issuer.js';
import {
  ACCOUNT_A,
  ACCOUNT_B,
  ADMIN,
  ALICE,
  BACK_OFFICE,
  BOB,
  http,
  login,
  rememberSecret,
  secretsInLogs,
  startSystem,
  SUPPORT,
  tokenRequest,
  type Credentials,
  type RunningSystem,
  type TokenResponse,
} from './harness.js';

/** Short lock, so the test also sees it expire (the contract: a lock is never permanent). */
const LOGIN_LOCK_MS = 4_000;
const LOGIN_FAILURES_MAX = 10;
/** Low limits for the rate-limit tests (the gateway is restarted with them at the end of the file). */
const AUTH_RATE_LIMIT_MAX = 5;
const MONEY_RATE_LIMIT_MAX = 3;

type Response = Awaited<ReturnType<typeof http>>;

const card = { number: '4242424242424242', expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3, cvc: '123', holderName: 'Ada Lovelace' };
const SUMMARY_QUERY = 'from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z';

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Every key of a JSON document, at any depth. */
function keysOf(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) keysOf(item, into);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      into.push(key);
      keysOf(inner, into);
    }
  }
  return into;
}

/** API3: no password, hash, secret or private key material in a response. */
function expectNoSensitiveFields(res: Response, what: string) {
  const keys = keysOf(res.body).map((key) => key.toLowerCase());
  const sensitive = keys.filter((key) => /pass|secret|hash|salt|private|credential/.test(key) || key === 'd');
  expect(sensitive, `${what}: sensitive fields ${sensitive.join(', ')}`).toEqual([]);
  expect(JSON.stringify(res.body ?? ''), what).not.toMatch(/\$argon2|BEGIN [A-Z ]*PRIVATE KEY/);
}

function expectUnauthenticated(res: Response, { tokenPresented }: { tokenPresented: boolean }) {
  expect(res.status).toBe(401);
  expect(res.contentType).toContain('application/problem+json');
  expect(res.body.type).toMatch(/unauthenticated$/);
  const challenge = res.headers.get('www-authenticate') ?? '';
  expect(challenge).toMatch(/^Bearer\b/);
  // RFC 6750 3.1: an error attribute only when a token was presented.
  if (tokenPresented) expect(challenge).toContain('error="invalid_token"');
  else expect(challenge).not.toContain('error=');
}

/** A 404 body without what differs per request (the account id, the request id): "not yours" must equal "does not exist". */
function withoutId(res: Response, accountId: string): unknown {
  const { requestId: _requestId, ...body } = JSON.parse(JSON.stringify(res.body).replaceAll(accountId, '<id>')) as Record<string, unknown>;
  return body;
}

describe('identity and access over REST (issue 10)', () => {
  let system: RunningSystem;
  let testIssuer: TestIssuer;
  /** Alice's token from an identity-service with a 5-second token lifetime (expiry test). */
  let shortLivedToken: string;
  /** A token the real issuer signed for another audience. */
  let otherAudienceToken: string;

  const call = async (user: Credentials | string | null, method: string, path: string, options: Parameters<typeof http>[3] = {}) =>
    http(system.baseUrl, method, path, { ...options, headers: { ...(user === null ? {} : await system.as(user)), ...options.headers } });
  const withKey = (body: unknown) => ({ body, headers: { 'Idempotency-Key': randomUUID() } });
  const balanceOf = async (account: string) => (await call(ADMIN, 'GET', `/accounts/${account}/balance`)).body.balance as string;
  const register = async (username: string, password: string) => {
    rememberSecret(password);
    return http(system.baseUrl, 'POST', '/auth/register', { body: { username, password } });
  };
  const newUser = async (): Promise<Credentials & { userId: string }> => {
    const user = { username: `user-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}` };
    const res = await register(user.username, user.password);
    expect(res.status).toBe(201);
    return { ...user, userId: res.body.userId as string };
  };

  beforeAll(async () => {
    testIssuer = await startTestIssuer();
    system = await startSystem({
      analytics: true,
      cardAdapter: true,
      // Trace level: the secrets scan at the end reads everything the services say.
      logLevel: 'trace',
      env: { identity: { IDENTITY_LOGIN_LOCK_MS: String(LOGIN_LOCK_MS), IDENTITY_LOGIN_FAILURES_MAX: String(LOGIN_FAILURES_MAX) } },
    });
    // Tokens only the real issuer can sign, with claims the gateway must refuse:
    // a 5-second lifetime (expiry), then another audience; then back to normal.
    await system.restart('identity', { IDENTITY_ACCESS_TOKEN_TTL_SECONDS: '5' });
    shortLivedToken = ((await login(system.baseUrl, ALICE)).body as TokenResponse).access_token;
    expect((await call(shortLivedToken, 'GET', '/me')).status).toBe(200);
    await system.restart('identity', { IDENTITY_ACCESS_TOKEN_TTL_SECONDS: '900', IDENTITY_AUDIENCE: 'another-api' });
    otherAudienceToken = ((await login(system.baseUrl, ALICE)).body as TokenResponse).access_token;
    await system.restart('identity', { IDENTITY_AUDIENCE: system.audience });
  }, 600_000);

  afterAll(async () => {
    await testIssuer?.close();
    await system?.stop();
  });

  describe('POST /auth/register', () => {
    it('creates a customer: 201 {userId, username}, and the new user can log in', async () => {
      const username = `reg-${randomUUID().slice(0, 8)}`;
      const password = 'a-long-enough-password';
      const res = await register(username, password);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ userId: expect.any(String), username });
      const token = await login(system.baseUrl, { username, password });
      expect(token.status).toBe(200);
      expect(decodeJwt((token.body as TokenResponse).access_token)).toMatchObject({ sub: res.body.userId, roles: ['customer'] });
    });

    it.each([
      ['a username shorter than 3 characters', { username: 'ab', password: 'a-long-enough-password' }, 'username'],
      ['a username longer than 64 characters', { username: 'a'.repeat(65), password: 'a-long-enough-password' }, 'username'],
      ['a username with upper case or spaces', { username: 'Not Allowed', password: 'a-long-enough-password' }, 'username'],
      ['a password shorter than 12 characters', { username: 'short-pw-user', password: 'elevenchars' }, 'password'],
      ['a password longer than 128 characters', { username: 'long-pw-user', password: 'p'.repeat(129) }, 'password'],
      ['no password', { username: 'no-pw-user' }, 'password'],
    ])('answers 400 problem+json naming the field for %s', async (_what, body: { username: string; password?: string }, field) => {
      rememberSecret(body.password);
      const res = await http(system.baseUrl, 'POST', '/auth/register', { body });
      expect(res.status).toBe(400);
      expect(res.contentType).toContain('application/problem+json');
      expect((res.body.errors as { field: string }[]).map((e) => e.field).join(' ')).toContain(field);
    });

    it('answers 409 when the username is taken (a seeded one or one just registered)', async () => {
      expect((await register('alice', 'another-long-password')).status).toBe(409);
      const user = await newUser();
      const again = await register(user.username, 'yet-another-long-password');
      expect(again.status).toBe(409);
      expect(again.contentType).toContain('application/problem+json');
    });
  });

  describe('POST /auth/token', () => {
    it('password grant: 200 RFC 6749 5.1 with Cache-Control: no-store, a refresh token and a short-lived signed JWT', async () => {
      const res = await login(system.baseUrl, ALICE);
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toContain('no-store');
      const body = res.body as TokenResponse;
      expect(body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String), refresh_token: expect.any(String) });
      expect(body.expires_in).toBeGreaterThan(0);
      expect(body.expires_in).toBeLessThanOrEqual(900);
      expect(['ES256', 'EdDSA']).toContain(decodeProtectedHeader(body.access_token).alg);
      const claims = decodeJwt(body.access_token);
      expect(claims).toMatchObject({ iss: system.issuer, sub: ALICE.userId, roles: ['customer'] });
      expect([claims.aud].flat()).toContain(system.audience);
      for (const claim of ['exp', 'iat', 'jti'] as const) expect(claims[claim]).toBeDefined();
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(900);
    });

    it('password grant for the first-party public client Swagger UI uses ("Authorize": client_id swagger-ui, no secret)', async () => {
      const res = await tokenRequest(system.baseUrl, { grant_type: 'password', username: ALICE.username, password: ALICE.password, client_id: 'swagger-ui' });
      expect(res.status).toBe(200);
      const body = res.body as TokenResponse;
      expect((await call(body.access_token, 'GET', `/accounts/${ACCOUNT_A}/balance`)).status).toBe(200);
      const refreshed = await tokenRequest(system.baseUrl, { grant_type: 'refresh_token', refresh_token: body.refresh_token!, client_id: 'swagger-ui' });
      expect(refreshed.status).toBe(200);
    });

    it('refresh grant rotates: a new access and refresh token, the old refresh token dies', async () => {
      const first = (await login(system.baseUrl, BOB)).body as TokenResponse;
      const second = await tokenRequest(system.baseUrl, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
      expect(second.status).toBe(200);
      expect(second.headers.get('cache-control')).toContain('no-store');
      const rotated = second.body as TokenResponse;
      expect(rotated.refresh_token).toEqual(expect.any(String));
      expect(rotated.refresh_token).not.toBe(first.refresh_token);
      expect(decodeJwt(rotated.access_token).sub).toBe(BOB.userId);
      expect((await call(rotated.access_token, 'GET', `/accounts/${ACCOUNT_B}/balance`)).status).toBe(200);
    });

    it('API2 broken authentication: reusing a rotated refresh token answers invalid_grant and revokes the whole family', async () => {
      const first = (await login(system.baseUrl, BOB)).body as TokenResponse;
      const second = (await tokenRequest(system.baseUrl, { grant_type: 'refresh_token', refresh_token: first.refresh_token! })).body as TokenResponse;
      const reuse = await tokenRequest(system.baseUrl, { grant_type: 'refresh_token', refresh_token: first.refresh_token! });
      expect(reuse.status).toBe(400);
      expect(reuse.body).toMatchObject({ error: 'invalid_grant' });
      // The thief's reuse killed the legitimate holder's newer token too: the family is gone.
      const latest = await tokenRequest(system.baseUrl, { grant_type: 'refresh_token', refresh_token: second.refresh_token! });
      expect(latest.status).toBe(400);
      expect(latest.body).toMatchObject({ error: 'invalid_grant' });
    });

    it('client_credentials: 200 without a refresh token; a wrong secret is invalid_client 401', async () => {
      const basic = `Basic ${Buffer.from(`${BACK_OFFICE.clientId}:${BACK_OFFICE.clientSecret}`).toString('base64')}`;
      const res = await tokenRequest(system.baseUrl, { grant_type: 'client_credentials' }, { authorization: basic });
      expect(res.status).toBe(200);
      expect(res.headers.get('cache-control')).toContain('no-store');
      expect(res.body).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
      expect(res.body.refresh_token).toBeUndefined();
      const wrong = await tokenRequest(system.baseUrl, { grant_type: 'client_credentials', client_id: BACK_OFFICE.clientId, client_secret: 'not-the-secret-at-all' });
      expect(wrong.status).toBe(401);
      expect(wrong.contentType).toContain('application/json');
      expect(wrong.body).toMatchObject({ error: 'invalid_client' });
    });

    it('answers RFC 6749 5.2 JSON errors: invalid_grant 400 for a wrong password or unknown user, unsupported_grant_type 400', async () => {
      const cases: [Record<string, string>, number, string][] = [
        [{ grant_type: 'password', username: 'support', password: 'not-the-right-password' }, 400, 'invalid_grant'],
        [{ grant_type: 'password', username: `ghost-${randomUUID().slice(0, 8)}`, password: 'whatever-password' }, 400, 'invalid_grant'],
        [{ grant_type: 'refresh_token', refresh_token: 'never-issued-refresh-token' }, 400, 'invalid_grant'],
        [{ grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' }, 400, 'unsupported_grant_type'],
        [{ grant_type: 'authorization_code', code: 'x' }, 400, 'invalid_request'],
      ];
      for (const [form, status, error] of cases) {
        const res = await tokenRequest(system.baseUrl, form);
        expect(res.status, form.grant_type).toBe(status);
        expect(res.contentType, form.grant_type).toContain('application/json');
        expect(res.body, form.grant_type).toMatchObject({ error });
        expect(res.body.access_token).toBeUndefined();
      }
    });

    it('POST /auth/logout answers 204 and the refresh token no longer works', async () => {
      const tokens = (await login(system.baseUrl, BOB)).body as TokenResponse;
      const res = await http(system.baseUrl, 'POST', '/auth/logout', {
        rawBody: new URLSearchParams({ refresh_token: tokens.refresh_token! }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.status).toBe(204);
      const after = await tokenRequest(system.baseUrl, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! });
      expect(after.status).toBe(400);
      expect(after.body).toMatchObject({ error: 'invalid_grant' });
    });
  });

  describe('API2 broken authentication: every /accounts and /me call needs a valid bearer token (401)', () => {
    const targets = [
      ['GET', `/accounts/${ACCOUNT_A}/balance`],
      ['GET', `/accounts/${ACCOUNT_A}/operations`],
      ['GET', `/accounts/${ACCOUNT_A}/summary?${SUMMARY_QUERY}`],
      ['GET', '/me'],
    ] as const;

    it('answers 401 with WWW-Authenticate: Bearer and no error attribute when no token is sent', async () => {
      for (const [method, path] of targets) expectUnauthenticated(await http(system.baseUrl, method, path), { tokenPresented: false });
      const before = await balanceOf(ACCOUNT_A);
      const moves = [
        await http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/transfers`, withKey({ recipientAccountId: ACCOUNT_B, amount: '1.00' })),
        await http(system.baseUrl, 'POST', `/accounts/${ACCOUNT_A}/topup`, withKey({ amount: '1.00', card })),
        await http(system.baseUrl, 'POST', '/accounts', withKey({ currency: 'USD' })),
      ];
      for (const res of moves) expectUnauthenticated(res, { tokenPresented: false });
      expect(await balanceOf(ACCOUNT_A)).toBe(before);
    });

    it('answers 401 for another scheme (Basic) and a malformed bearer header', async () => {
      expectUnauthenticated(await call(null, 'GET', '/me', { headers: { authorization: 'Basic YWxpY2U6cHc=' } }), { tokenPresented: false });
      expectUnauthenticated(await call(null, 'GET', '/me', { headers: { authorization: 'Bearer' } }), { tokenPresented: true });
    });

    it('answers 401 invalid_token for a garbage token', async () => {
      for (const [method, path] of targets) expectUnauthenticated(await call('not-a-jwt', method, path), { tokenPresented: true });
      expectUnauthenticated(await call('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl', 'GET', '/me'), { tokenPresented: true });
    });

    it('answers 401 for a token of another issuer', async () => {
      const foreign = await testIssuer.sign({ sub: ALICE.userId, roles: ['admin'], username: 'alice' });
      for (const [method, path] of targets) expectUnauthenticated(await call(foreign, method, path), { tokenPresented: true });
    });

    it('answers 401 for a token that claims our issuer but is signed with another key', async () => {
      const forged = await testIssuer.sign({ sub: ALICE.userId, roles: ['admin'], issuer: system.issuer, audience: system.audience });
      for (const [method, path] of targets) expectUnauthenticated(await call(forged, method, path), { tokenPresented: true });
    });

    it('answers 401 for a real token whose payload was altered (another subject, admin role)', async () => {
      const [header, payload, signature] = (await system.tokenFor(ALICE)).split('.');
      const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${header}.${base64url({ ...claims, sub: BOB.userId, roles: ['admin'] })}.${signature}`;
      expectUnauthenticated(await call(tampered, 'GET', `/accounts/${ACCOUNT_B}/balance`), { tokenPresented: true });
    });

    it('answers 401 for a token for another audience, signed by our issuer', async () => {
      expect(decodeJwt(otherAudienceToken).aud).toBe('another-api');
      for (const [method, path] of targets) expectUnauthenticated(await call(otherAudienceToken, method, path), { tokenPresented: true });
    });

    it('answers 401 for alg "none"', async () => {
      const claims = decodeJwt(await system.tokenFor(ALICE));
      const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ ...claims, roles: ['admin'] })}.`;
      for (const [method, path] of targets) expectUnauthenticated(await call(unsigned, method, path), { tokenPresented: true });
    });

    it('answers 401 for HS256 "signed" with the issuer\'s public key (algorithm confusion)', async () => {
      const real = await system.tokenFor(ALICE);
      const jwks = (await http(system.issuer, 'GET', '/.well-known/jwks.json')).body as { keys: JWK[] };
      const jwk = jwks.keys.find((key) => key.kid === decodeProtectedHeader(real).kid)!;
      const pem = await exportSPKI((await importJWK(jwk, jwk.alg ?? 'ES256')) as CryptoKey);
      const claims = { ...decodeJwt(real), roles: ['admin'] };
      for (const secret of [pem, JSON.stringify(jwk)]) {
        const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: jwk.kid }).sign(new TextEncoder().encode(secret));
        expectUnauthenticated(await call(confused, 'GET', `/accounts/${ACCOUNT_B}/balance`), { tokenPresented: true });
        expectUnauthenticated(await call(confused, 'GET', '/me'), { tokenPresented: true });
      }
    });
  });

  describe('API1 broken object level authorization: a customer reaches only their own accounts', () => {
    it('alice reading bob\'s balance, operations or summary gets 404, identical to an unknown account', async () => {
      const unknown = randomUUID();
      for (const suffix of ['balance', 'operations', `summary?${SUMMARY_QUERY}`]) {
        const theirs = await call(ALICE, 'GET', `/accounts/${ACCOUNT_B}/${suffix}`);
        const none = await call(ALICE, 'GET', `/accounts/${unknown}/${suffix}`);
        expect(theirs.status, suffix).toBe(404);
        expect(none.status, suffix).toBe(404);
        expect(withoutId(theirs, ACCOUNT_B), suffix).toEqual(withoutId(none, unknown));
        expect((await call(BOB, 'GET', `/accounts/${ACCOUNT_B}/${suffix}`)).status, suffix).toBe(200);
      }
    });

    it('alice cannot move money out of bob\'s account (transfer or top-up): 404, nothing moves', async () => {
      const before = await balanceOf(ACCOUNT_B);
      const unknown = randomUUID();
      const transfer = await call(ALICE, 'POST', `/accounts/${ACCOUNT_B}/transfers`, withKey({ recipientAccountId: ACCOUNT_A, amount: '5.00' }));
      const transferUnknown = await call(ALICE, 'POST', `/accounts/${unknown}/transfers`, withKey({ recipientAccountId: ACCOUNT_A, amount: '5.00' }));
      expect(transfer.status).toBe(404);
      expect(withoutId(transfer, ACCOUNT_B)).toEqual(withoutId(transferUnknown, unknown));
      const topUp = await call(ALICE, 'POST', `/accounts/${ACCOUNT_B}/topup`, withKey({ amount: '5.00', card }));
      expect(topUp.status).toBe(404);
      expect(topUp.body.charged).toBe(false);
      expect(await balanceOf(ACCOUNT_B)).toBe(before);
    });

    it('alice may transfer to bob (a recipient may be any customer account), recorded as initiated by her', async () => {
      const res = await call(ALICE, 'POST', `/accounts/${ACCOUNT_A}/transfers`, withKey({ recipientAccountId: ACCOUNT_B, amount: '2.00' }));
      expect(res.status).toBe(201);
      const op = await waitFor(
        async () => {
          const page = await call(BOB, 'GET', `/accounts/${ACCOUNT_B}/operations?type=transfer_in`);
          return (page.body.items as { transferId?: string; initiatedBy?: string }[] | undefined)?.find((o) => o.transferId === res.body.id);
        },
        { what: 'the transfer in bob\'s history', timeoutMs: 30_000, intervalMs: 250 },
      );
      expect(op.initiatedBy).toBe(ALICE.userId);
    });
  });

  it('npm run seed:accounts -- --users N registers the owners, so a load test logs in as them and reaches only their own accounts', async () => {
    const prefix = `seed-${randomUUID().slice(0, 6)}-`;
    const password = `seed-pw-${randomUUID()}`;
    rememberSecret(password);
    const child = spawnSync(
      process.execPath,
      ['scripts/seed-accounts.mjs', '--users', '2', '--user-prefix', prefix, '--gateway-url', system.baseUrl, '--count', '4', '--format', 'jsonl'],
      { encoding: 'utf8', env: { ...process.env, DATABASE_URL: system.db.url, SEED_USERS_PASSWORD: password }, timeout: 120_000 },
    );
    expect(child.status, child.stderr).toBe(0);
    const accounts = child.stdout.trim().split('\n').map((line) => JSON.parse(line) as { accountId: string; ownerId: string });
    const users = child.stderr.split('\n').filter((line) => line.startsWith('{"username"')).map((line) => JSON.parse(line) as { username: string; userId: string });
    expect(accounts).toHaveLength(4);
    expect(users.map((u) => u.username)).toEqual([`${prefix}000`, `${prefix}001`]);
    const first = { username: `${prefix}000`, password };
    const own = accounts.find((a) => a.ownerId === users[0]!.userId)!;
    const foreign = accounts.find((a) => a.ownerId === users[1]!.userId)!;
    const balance = await call(first, 'GET', `/accounts/${own.accountId}/balance`);
    expect(balance.status).toBe(200);
    expect(balance.body).toMatchObject({ accountId: own.accountId, balance: '1000.00' });
    expect((await call(first, 'GET', `/accounts/${foreign.accountId}/balance`)).status).toBe(404);
  });

  describe('roles', () => {
    it('support reads any account (balance, operations, summary: 200)', async () => {
      for (const account of [ACCOUNT_A, ACCOUNT_B]) {
        for (const suffix of ['balance', 'operations', `summary?${SUMMARY_QUERY}`]) {
          expect((await call(SUPPORT, 'GET', `/accounts/${account}/${suffix}`)).status, `${account} ${suffix}`).toBe(200);
        }
      }
    });

    it('support gets 403 on a transfer, a top-up and opening an account, and nothing moves', async () => {
      const before = [await balanceOf(ACCOUNT_A), await balanceOf(ACCOUNT_B)];
      const refused = [
        await call(SUPPORT, 'POST', `/accounts/${ACCOUNT_A}/transfers`, withKey({ recipientAccountId: ACCOUNT_B, amount: '1.00' })),
        await call(SUPPORT, 'POST', `/accounts/${ACCOUNT_A}/topup`, withKey({ amount: '1.00', card })),
        await call(SUPPORT, 'POST', '/accounts', withKey({ currency: 'USD' })),
      ];
      for (const res of refused) {
        expect(res.status).toBe(403);
        expect(res.contentType).toContain('application/problem+json');
        expect(res.body.type).toMatch(/forbidden$/);
      }
      expect([await balanceOf(ACCOUNT_A), await balanceOf(ACCOUNT_B)]).toEqual(before);
    });

    it('admin may do everything: read and move any account, top up, open an account for another owner', async () => {
      expect((await call(ADMIN, 'GET', `/accounts/${ACCOUNT_B}/operations`)).status).toBe(200);
      const transfer = await call(ADMIN, 'POST', `/accounts/${ACCOUNT_B}/transfers`, withKey({ recipientAccountId: ACCOUNT_A, amount: '1.00' }));
      expect(transfer.status).toBe(201);
      const topUp = await call(ADMIN, 'POST', `/accounts/${ACCOUNT_B}/topup`, withKey({ amount: '3.00', card }));
      expect(topUp.status).toBe(201);
      const owner = await newUser();
      const opened = await call(ADMIN, 'POST', '/accounts', withKey({ currency: 'USD', ownerId: owner.userId }));
      expect(opened.status).toBe(201);
      expect(opened.body).toMatchObject({ ownerId: owner.userId, currency: 'USD', balance: '0.00' });
      const me = await call(owner, 'GET', '/me');
      expect(me.body.accounts).toEqual([{ accountId: opened.body.accountId, currency: 'USD' }]);
    });
  });

  describe('GET /me and POST /accounts', () => {
    it('GET /me answers the caller: userId, username, roles and their accounts', async () => {
      const me = await call(ALICE, 'GET', '/me');
      expect(me.status).toBe(200);
      expect(me.body).toMatchObject({ userId: ALICE.userId, username: 'alice', roles: ['customer'] });
      expect(me.body.accounts).toContainEqual({ accountId: ACCOUNT_A, currency: 'USD' });
      expect((me.body.accounts as { accountId: string }[]).map((a) => a.accountId)).not.toContain(ACCOUNT_B);
      const support = await call(SUPPORT, 'GET', '/me');
      expect(support.body).toMatchObject({ userId: SUPPORT.userId, username: 'support', roles: ['support'], accounts: [] });
    });

    it('POST /accounts opens an account for the caller (201), replays its Idempotency-Key, and the owner can use it', async () => {
      const user = await newUser();
      const key = randomUUID();
      const res = await call(user, 'POST', '/accounts', { body: { currency: 'USD' }, headers: { 'Idempotency-Key': key } });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        accountId: expect.any(String),
        ownerId: user.userId,
        currency: 'USD',
        balance: '0.00',
        available: '0.00',
        pending: '0.00',
        posted: '0.00',
        createdAt: expect.any(String),
      });
      const again = await call(user, 'POST', '/accounts', { body: { currency: 'USD' }, headers: { 'Idempotency-Key': key } });
      expect(again.status).toBe(201);
      expect(again.body).toEqual(res.body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect((await call(user, 'GET', '/me')).body.accounts).toEqual([{ accountId: res.body.accountId, currency: 'USD' }]);
      expect((await call(user, 'GET', `/accounts/${res.body.accountId}/balance`)).body).toMatchObject({ balance: '0.00', currency: 'USD' });
      // Another customer does not see it.
      expect((await call(ALICE, 'GET', `/accounts/${res.body.accountId}/balance`)).status).toBe(404);
    });

    it('POST /accounts answers 400 for a bad currency, an unknown field or no Idempotency-Key', async () => {
      const user = await newUser();
      for (const body of [{ currency: 'usd' }, { currency: 'DOLLAR' }, {}, { currency: 'USD', color: 'red' }]) {
        const res = await call(user, 'POST', '/accounts', withKey(body));
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.contentType).toContain('application/problem+json');
      }
      expect((await call(user, 'POST', '/accounts', { body: { currency: 'USD' } })).status).toBe(400);
      expect((await call(user, 'GET', '/me')).body.accounts).toEqual([]);
    });

    it('a customer may not open an account for someone else (403), and nothing is opened', async () => {
      const user = await newUser();
      const res = await call(user, 'POST', '/accounts', withKey({ currency: 'USD', ownerId: BOB.userId }));
      expect(res.status).toBe(403);
      expect((await call(BOB, 'GET', '/me')).body.accounts).toEqual([{ accountId: ACCOUNT_B, currency: 'USD' }]);
    });
  });

  describe('API3 excessive data exposure', () => {
    it('no response carries a password, hash, client secret or private key', async () => {
      const user = { username: `exp-${randomUUID().slice(0, 8)}`, password: `pw-${randomUUID()}` };
      const responses: [string, Response][] = [
        ['register', await register(user.username, user.password)],
        ['register 409', await register(user.username, user.password)],
        ['register 400', await register('x', 'short')],
        ['token', await login(system.baseUrl, user)],
        ['token error', await login(system.baseUrl, { username: user.username, password: 'wrong-password-here' })],
        ['me', await call(user, 'GET', '/me')],
        ['open account', await call(user, 'POST', '/accounts', withKey({ currency: 'USD' }))],
        ['balance', await call(ALICE, 'GET', `/accounts/${ACCOUNT_A}/balance`)],
        ['operations', await call(ALICE, 'GET', `/accounts/${ACCOUNT_A}/operations`)],
        ['401', await call('garbage', 'GET', '/me')],
        ['discovery', await http(system.issuer, 'GET', '/.well-known/openid-configuration')],
        ['jwks', await http(system.issuer, 'GET', '/.well-known/jwks.json')],
      ];
      for (const [what, res] of responses) expectNoSensitiveFields(res, what);
      const token = (responses[3]![1].body as TokenResponse).access_token;
      const claims = keysOf(decodeJwt(token)).map((key) => key.toLowerCase());
      expect(claims.filter((key) => /pass|secret|hash/.test(key))).toEqual([]);
    });
  });

  describe('API2 broken authentication: brute-force lockout', () => {
    it(`locks a username after ${LOGIN_FAILURES_MAX} failures (429 + Retry-After even with the right password), other users unaffected, and the lock expires`, async () => {
      const user = await newUser();
      for (let attempt = 0; attempt < LOGIN_FAILURES_MAX; attempt += 1) {
        const res = await login(system.baseUrl, { username: user.username, password: `wrong-password-${attempt}` });
        expect(res.status, `failure ${attempt + 1}`).toBe(400);
      }
      const locked = await login(system.baseUrl, user);
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(locked.body.access_token).toBeUndefined();
      expect((await login(system.baseUrl, ALICE)).status).toBe(200);
      // Never permanent: once the lock expires the right password works again.
      const unlocked = await waitFor(
        async () => {
          const res = await login(system.baseUrl, user);
          return res.status === 200 ? res : undefined;
        },
        { what: 'the lock to expire', timeoutMs: LOGIN_LOCK_MS + 20_000, intervalMs: 500 },
      );
      expect(unlocked.body.access_token).toEqual(expect.any(String));
    });
  });

  describe('expiry', () => {
    it('answers 401 invalid_token once an access token has expired', async () => {
      const { exp } = decodeJwt(shortLivedToken);
      expect(exp! - decodeJwt(shortLivedToken).iat!).toBe(5);
      // It worked when issued (beforeAll); the verifier allows some clock skew, so wait for the refusal.
      const refused = await waitFor(
        async () => {
          const res = await call(shortLivedToken, 'GET', '/me');
          return res.status === 401 ? res : undefined;
        },
        { what: 'the expired token to be refused', timeoutMs: 120_000, intervalMs: 1_000 },
      );
      expectUnauthenticated(refused, { tokenPresented: true });
      expect(refused.headers.get('www-authenticate')).toMatch(/expired/);
      expect(Date.now() / 1000).toBeGreaterThan(exp!);
    }, 150_000);
  });

  describe('API4 lack of resources and rate limiting', () => {
    beforeAll(async () => {
      // Per minute (the gateway's fixed window): nothing here waits for a window to pass.
      await system.restart('gateway', {
        GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: String(AUTH_RATE_LIMIT_MAX),
        GATEWAY_RATE_LIMIT_USER_PER_MINUTE: String(MONEY_RATE_LIMIT_MAX),
      });
    }, 120_000);

    const expectLimited = (res: Response) => {
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      // draft-ietf-httpapi-ratelimit-headers
      expect(res.headers.get('ratelimit-limit')).toBeTruthy();
      expect(res.headers.get('ratelimit-remaining')).toBe('0');
      expect(Number(res.headers.get('ratelimit-reset'))).toBeGreaterThan(0);
    };

    it('limits money-moving calls per user: 429 problem+json with Retry-After and RateLimit headers; another user is not limited', async () => {
      const results: Response[] = [];
      for (let i = 0; i <= MONEY_RATE_LIMIT_MAX; i += 1) {
        results.push(await call(BOB, 'POST', `/accounts/${ACCOUNT_B}/transfers`, withKey({ recipientAccountId: ACCOUNT_A, amount: '0.01' })));
      }
      expect(results.slice(0, MONEY_RATE_LIMIT_MAX).map((r) => r.status)).toEqual(Array(MONEY_RATE_LIMIT_MAX).fill(201));
      const limited = results[MONEY_RATE_LIMIT_MAX]!;
      expectLimited(limited);
      expect(limited.contentType).toContain('application/problem+json');
      expect((await call(ALICE, 'POST', `/accounts/${ACCOUNT_A}/transfers`, withKey({ recipientAccountId: ACCOUNT_B, amount: '0.01' }))).status).toBe(201);
      // Reads are not money-moving: bob may still look at his balance.
      expect((await call(BOB, 'GET', `/accounts/${ACCOUNT_B}/balance`)).status).toBe(200);
    });

    it('limits /auth/* per client address: 429 with Retry-After and RateLimit headers', async () => {
      const results: Response[] = [];
      for (let i = 0; i <= AUTH_RATE_LIMIT_MAX; i += 1) results.push(await tokenRequest(system.baseUrl, { grant_type: 'password', username: 'nobody-here', password: 'whatever-password' }));
      expect(results.slice(0, AUTH_RATE_LIMIT_MAX).every((r) => r.status === 400)).toBe(true);
      expectLimited(results[AUTH_RATE_LIMIT_MAX]!);
    });
  });

  describe('secrets', () => {
    it('the log scan finds a planted token (by its signature alone too) and never prints it', async () => {
      const token = await system.tokenFor(ALICE);
      const dir = mkdtempSync(join(tmpdir(), 'wallet-scan-'));
      try {
        writeFileSync(join(dir, 'leaky.log'), `{"msg":"oops","sig":"${token.split('.')[2]}"}\n`);
        const leaks = secretsInLogs(dir);
        expect(leaks.length).toBeGreaterThan(0);
        expect(leaks.join(' ')).not.toContain(token.split('.')[2]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('no password, access token, refresh token, client secret or service credential appears in any service\'s log', async () => {
      // Not vacuous: every service wrote its log (debug level) into the folder scanned.
      for (const service of Object.values(system.processes)) {
        expect(readFileSync(service.logPath!, 'utf8').split('\n').length, service.name).toBeGreaterThan(3);
      }
      // The harness scans again after the services stopped (stop() fails on a leak); this names the row.
      expect(secretsInLogs(system.logDir)).toEqual([]);
    });
  });
});
