import type { InjectOptions } from 'fastify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { IdentityApi } from '../../src/clients/identity.js';
import { ALICE, ALICE_USER, BOB, BOB_USER, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

const transferBody = { recipientAccountId: BOB, amount: '1.00' };
const topUpBody = { amount: '1.00', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } };
let keySeq = 0;
const json = () => ({ 'content-type': 'application/json', 'idempotency-key': `rl-${(keySeq += 1)}` });
const ALLOWED_ORIGIN = 'http://localhost:3000';

/** An identity-service stand-in: every /auth/* call is a 204. */
function fakeIdentity(): IdentityApi {
  return { forward: vi.fn(async () => ({ status: 204, headers: {}, body: Buffer.alloc(0) })) };
}

const logout = (remoteAddress = '10.0.0.1', headers: Record<string, string> = {}): InjectOptions => ({
  method: 'POST',
  url: '/auth/logout',
  headers: { 'content-type': 'application/json', ...headers },
  payload: { refresh_token: 'opaque-refresh-token' },
  remoteAddress,
});

function expectRateLimited(res: { statusCode: number; headers: Record<string, unknown>; body: string }, limit: number) {
  expect(res.statusCode).toBe(429);
  expect(problemOf(res as never)).toMatchObject({ status: 429, type: 'urn:problem:wallet:rate-limited', code: 'RATE_LIMITED' });
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(60);
  expect(res.headers['ratelimit-limit']).toBe(String(limit));
  expect(res.headers['ratelimit-remaining']).toBe('0');
  expect(Number(res.headers['ratelimit-reset'])).toBe(retryAfter);
}

describe('rate limits (OWASP API4: lack of resources and rate limiting)', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it.each<[string, () => InjectOptions]>([
    ['createTransfer', () => ({ method: 'POST', url: `/accounts/${ALICE}/transfers`, headers: json(), payload: transferBody })],
    ['createTopUp', () => ({ method: 'POST', url: `/accounts/${ALICE}/topup`, headers: json(), payload: topUpBody })],
    ['createAccount', () => ({ method: 'POST', url: '/accounts', headers: json(), payload: { currency: 'USD' } })],
  ])('%s: 429 rate-limited problem with Retry-After and RateLimit headers once the user spent the limit; CORS kept', async (_op, request) => {
    gw = await startTestGateway({ config: { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: 2 } });
    const withOrigin = () => {
      const r = request();
      return { ...r, headers: { ...(r.headers as Record<string, string>), origin: ALLOWED_ORIGIN } };
    };
    const first = await gw.inject(withOrigin());
    expect(first.statusCode).toBeLessThan(300);
    expect([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining']]).toEqual(['2', '1']);
    expect((await gw.inject(withOrigin())).headers['ratelimit-remaining']).toBe('0');
    const limited = await gw.inject(withOrigin());
    expectRateLimited(limited, 2);
    expect(limited.headers['access-control-allow-origin']).toBe(ALLOWED_ORIGIN);
  });

  it('keys the money-moving limit on the user: another user, even from the same address, is not affected', async () => {
    gw = await startTestGateway({ config: { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: 1 } });
    const transfer = async (bearer: string, from: string) =>
      gw!.inject({ method: 'POST', url: `/accounts/${from}/transfers`, headers: { ...json(), authorization: bearer }, payload: { ...transferBody, recipientAccountId: from === ALICE ? BOB : ALICE } });
    const alice = await gw.bearer(ALICE_USER);
    const bob = await gw.bearer(BOB_USER);
    expect((await transfer(alice, ALICE)).statusCode).toBe(201);
    expect((await transfer(alice, ALICE)).statusCode).toBe(429);
    // The fake bank accepts both; what is tested is that bob's budget is his own.
    expect((await transfer(bob, BOB)).statusCode).toBe(201);
    expect((await transfer(bob, BOB)).statusCode).toBe(429);
    // A new token of the same user shares the user's budget (keyed on the subject, not the token).
    expect((await transfer(await gw.bearer(ALICE_USER), ALICE)).statusCode).toBe(429);
  });

  it('never limits reads, health or docs, and a 401 is not counted against anybody', async () => {
    gw = await startTestGateway({ config: { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: 1, GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 1 } });
    for (let i = 0; i < 5; i += 1) {
      expect((await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` })).statusCode).toBe(200);
      expect((await gw.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await gw.inject({ method: 'GET', url: '/openapi.yaml' })).statusCode).toBe(200);
      const anonymous = await gw.inject({ method: 'POST', url: `/accounts/${ALICE}/transfers`, headers: json(), payload: transferBody, auth: false });
      expect(anonymous.statusCode).toBe(401);
    }
    const balance = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(balance.headers['ratelimit-limit']).toBeUndefined();
    expect((await gw.inject({ method: 'POST', url: `/accounts/${ALICE}/transfers`, headers: json(), payload: transferBody })).statusCode).toBe(201);
  });

  it('limits /auth/* per client address: another address still gets through', async () => {
    const identity = fakeIdentity();
    gw = await startTestGateway({ identity, config: { GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 2 } });
    expect((await gw.inject(logout('10.0.0.1'))).statusCode).toBe(204);
    expect((await gw.inject(logout('10.0.0.1'))).statusCode).toBe(204);
    expectRateLimited(await gw.inject(logout('10.0.0.1')), 2);
    expect(identity.forward).toHaveBeenCalledTimes(2);
    expect((await gw.inject(logout('10.0.0.2'))).statusCode).toBe(204);
  });

  it('ignores X-Forwarded-For by default (a client cannot pick a fresh address per request)', async () => {
    gw = await startTestGateway({ identity: fakeIdentity(), config: { GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 1 } });
    expect((await gw.inject(logout('10.0.0.1', { 'x-forwarded-for': '203.0.113.1' }))).statusCode).toBe(204);
    expect((await gw.inject(logout('10.0.0.1', { 'x-forwarded-for': '203.0.113.2' }))).statusCode).toBe(429);
  });

  it('honours GATEWAY_TRUST_PROXY: behind a trusted proxy each forwarded client has its own budget', async () => {
    gw = await startTestGateway({ identity: fakeIdentity(), config: { GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 1, GATEWAY_TRUST_PROXY: '10.0.0.0/8' } });
    const viaProxy = (client: string) => logout('10.0.0.1', { 'x-forwarded-for': client });
    expect((await gw.inject(viaProxy('203.0.113.1'))).statusCode).toBe(204);
    expect((await gw.inject(viaProxy('203.0.113.1'))).statusCode).toBe(429);
    expect((await gw.inject(viaProxy('203.0.113.2'))).statusCode).toBe(204);
    // A peer outside the trusted range is the client itself, whatever it forwards.
    expect((await gw.inject(logout('198.51.100.7', { 'x-forwarded-for': '203.0.113.3' }))).statusCode).toBe(204);
    expect((await gw.inject(logout('198.51.100.7', { 'x-forwarded-for': '203.0.113.4' }))).statusCode).toBe(429);
  });

  it('honours a hop count: the address one hop behind the proxy is the client', async () => {
    gw = await startTestGateway({ identity: fakeIdentity(), config: { GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 1, GATEWAY_TRUST_PROXY: '1' } });
    // The proxy appends the address it saw; whatever the client put before it is not trusted.
    expect((await gw.inject(logout('10.0.0.1', { 'x-forwarded-for': '198.51.100.1, 203.0.113.1' }))).statusCode).toBe(204);
    expect((await gw.inject(logout('10.0.0.1', { 'x-forwarded-for': '198.51.100.2, 203.0.113.1' }))).statusCode).toBe(429);
    expect((await gw.inject(logout('10.0.0.1', { 'x-forwarded-for': '203.0.113.2' }))).statusCode).toBe(204);
  });

  it('0 turns a limit off', async () => {
    gw = await startTestGateway({ identity: fakeIdentity(), config: { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: 0, GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 0 } });
    for (let i = 0; i < 20; i += 1) {
      expect((await gw.inject({ method: 'POST', url: `/accounts/${ALICE}/transfers`, headers: json(), payload: transferBody })).statusCode).toBe(201);
      expect((await gw.inject(logout())).statusCode).toBe(204);
    }
  });

  it('counts 429s by scope in gateway_rate_limit_rejections_total', async () => {
    gw = await startTestGateway({ identity: fakeIdentity(), config: { GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 1 } });
    await gw.inject(logout());
    await gw.inject(logout());
    const metrics = await gw.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/gateway_rate_limit_rejections_total\{[^}]*scope="auth"[^}]*\} 1/);
  });
});
