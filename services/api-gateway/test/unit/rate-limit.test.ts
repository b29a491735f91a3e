import Fastify from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { installRateLimit } from '../../src/plugins/rate-limit.js';
import { ALICE, BOB, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

const transferBody = { recipientAccountId: BOB, amount: '1.00' };
const topUpBody = { amount: '1.00', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } };
const json = { 'content-type': 'application/json', 'idempotency-key': 'rl-1' };

describe('rate limit (429)', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
  });

  it.each<[string, { method: 'GET' | 'POST'; url: string; headers?: Record<string, string>; payload?: object }]>([
    ['createTransfer', { method: 'POST', url: `/accounts/${ALICE}/transfers`, headers: json, payload: transferBody }],
    ['createTopUp', { method: 'POST', url: `/accounts/${ALICE}/topup`, headers: json, payload: topUpBody }],
    ['getBalance', { method: 'GET', url: `/accounts/${ALICE}/balance` }],
    ['listOperations', { method: 'GET', url: `/accounts/${ALICE}/operations` }],
    ['getAccountSummary', { method: 'GET', url: `/accounts/${ALICE}/summary?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z` }],
  ])('%s: 429 with Retry-After once the burst is spent; CORS headers kept', async (_op, request) => {
    gw = await startTestGateway({ config: { GATEWAY_RATE_LIMIT_RPS: 1, GATEWAY_RATE_LIMIT_BURST: 2 } });
    const withOrigin = { ...request, headers: { ...(request.headers ?? {}), origin: 'https://app.example' } };
    expect((await gw.inject(withOrigin)).statusCode).toBeLessThan(300);
    expect((await gw.inject(withOrigin)).statusCode).toBeLessThan(300);
    const limited = await gw.inject(withOrigin);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBe('1');
    expect(limited.headers['access-control-allow-origin']).toBe('*');
    expect(problemOf(limited)).toMatchObject({ status: 429, type: 'urn:problem:wallet:too-many-requests', code: 'TOO_MANY_REQUESTS' });
  });

  it('never limits health, metrics or docs', async () => {
    gw = await startTestGateway({ config: { GATEWAY_RATE_LIMIT_RPS: 1, GATEWAY_RATE_LIMIT_BURST: 1 } });
    for (let i = 0; i < 5; i += 1) {
      expect((await gw.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      expect((await gw.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    }
  });

  it('is off by default', async () => {
    gw = await startTestGateway();
    for (let i = 0; i < 150; i += 1) {
      expect((await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` })).statusCode).toBe(200);
    }
  });
});

describe('token bucket', () => {
  async function appWithClock(options: { requestsPerSecond: number; burst: number; maxClients: number }) {
    let nowMs = 0;
    const app = Fastify();
    app.setErrorHandler((error: Error & { retryAfterSeconds?: number }, _request, reply) =>
      reply.code(429).send({ retryAfterSeconds: error.retryAfterSeconds }),
    );
    installRateLimit(app, options, () => nowMs);
    app.get('/accounts/x', async () => 'ok');
    await app.ready();
    const hit = async (ip = '10.0.0.1') => (await app.inject({ method: 'GET', url: '/accounts/x', remoteAddress: ip })).statusCode;
    return { app, hit, advance: (ms: number) => (nowMs += ms) };
  }

  it('refills at the sustained rate, up to the burst', async () => {
    const { app, hit, advance } = await appWithClock({ requestsPerSecond: 2, burst: 2, maxClients: 10 });
    expect([await hit(), await hit(), await hit()]).toEqual([200, 200, 429]);
    advance(500); // one token back
    expect([await hit(), await hit()]).toEqual([200, 429]);
    advance(60_000); // capped at the burst
    expect([await hit(), await hit(), await hit()]).toEqual([200, 200, 429]);
    await app.close();
  });

  it('keeps clients apart and forgets the least recently seen beyond maxClients', async () => {
    const { app, hit } = await appWithClock({ requestsPerSecond: 1, burst: 1, maxClients: 2 });
    expect([await hit('10.0.0.1'), await hit('10.0.0.1')]).toEqual([200, 429]);
    expect(await hit('10.0.0.2')).toBe(200);
    expect(await hit('10.0.0.3')).toBe(200); // evicts 10.0.0.1
    expect(await hit('10.0.0.1')).toBe(200); // a fresh bucket
    await app.close();
  });
});
