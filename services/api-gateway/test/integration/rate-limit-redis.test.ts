import type { InjectOptions } from 'fastify';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startValkey } from '../../../../scripts/lib/valkey.mjs';
import type { IdentityApi } from '../../src/clients/identity.js';
import type { GatewayConfig } from '../../src/config.js';
import { RATE_LIMIT_KEY_PREFIX } from '../../src/plugins/rate-limit.js';
import { ALICE, BOB, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

// Two gateway replicas in-process sharing one real Valkey/Redis server
// (scripts/lib/valkey.mjs: from PATH or Debian's packages).

type Valkey = Awaited<ReturnType<typeof startValkey>>;

const fakeIdentity = (): IdentityApi => ({ forward: vi.fn(async () => ({ status: 204, headers: {}, body: Buffer.alloc(0) })) });

const transfer = (bearer: string): InjectOptions => ({
  method: 'POST',
  url: `/accounts/${ALICE}/transfers`,
  headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), authorization: bearer },
  payload: { recipientAccountId: BOB, amount: '1.00' },
});

const logout = (remoteAddress: string): InjectOptions => ({
  method: 'POST',
  url: '/auth/logout',
  headers: { 'content-type': 'application/json' },
  payload: { refresh_token: 'opaque-refresh-token' },
  remoteAddress,
});

describe('rate limits shared through Redis/Valkey (REDIS_URL)', () => {
  let valkey: Valkey;
  let redis: Redis;
  const gateways: TestGateway[] = [];

  async function replica(url: string, config: Partial<GatewayConfig>): Promise<TestGateway> {
    const gw = await startTestGateway({ identity: fakeIdentity(), config: { REDIS_URL: url, ...config } });
    gateways.push(gw);
    return gw;
  }

  beforeAll(async () => {
    // May install the server package on first use (apt-get): a generous bound.
    valkey = await startValkey();
    redis = new Redis(valkey.url, { lazyConnect: true });
    await redis.connect();
  }, 360_000);

  afterEach(async () => {
    await Promise.all(gateways.splice(0).map((gw) => gw.close()));
  });

  afterAll(async () => {
    redis?.disconnect();
    await valkey?.stop();
  });

  it('the second replica sees what the first consumed: one budget per user across replicas, 429 with headers', async () => {
    const config = { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: 3 };
    const [first, second] = [await replica(valkey.url, config), await replica(valkey.url, config)];
    const user = randomUUID();
    // Each replica trusts its own test issuer; the budget is keyed on the subject.
    const [onFirst, onSecond] = [await first.bearer(user), await second.bearer(user)];
    expect((await first.inject(transfer(onFirst))).headers['ratelimit-remaining']).toBe('2');
    expect((await first.inject(transfer(onFirst))).headers['ratelimit-remaining']).toBe('1');
    const third = await second.inject(transfer(onSecond));
    expect(third.statusCode).toBe(201);
    expect(third.headers['ratelimit-remaining']).toBe('0');
    const limited = await second.inject(transfer(onSecond));
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited)).toMatchObject({ status: 429, type: 'urn:problem:wallet:rate-limited' });
    expect(limited.headers['ratelimit-limit']).toBe('3');
    expect(limited.headers['ratelimit-remaining']).toBe('0');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await first.inject(transfer(onFirst))).statusCode).toBe(429);
    // Another user is untouched on both replicas.
    const other = randomUUID();
    expect((await first.inject(transfer(await first.bearer(other)))).statusCode).toBe(201);
    // The counter lives in Redis under the gateway's prefix, with the window as its expiry.
    const keys = await redis.keys(`${RATE_LIMIT_KEY_PREFIX}*${user}`);
    expect(keys).toHaveLength(1);
    expect(await redis.get(keys[0]!)).toBe('5');
    const ttlMs = await redis.pttl(keys[0]!);
    expect(ttlMs).toBeGreaterThan(0);
    expect(ttlMs).toBeLessThanOrEqual(60_000);
  });

  it('limits /auth/* per client address across replicas', async () => {
    const config = { GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 2 };
    const [first, second] = [await replica(valkey.url, config), await replica(valkey.url, config)];
    const address = '198.51.100.23';
    expect((await first.inject(logout(address))).statusCode).toBe(204);
    expect((await second.inject(logout(address))).statusCode).toBe(204);
    const limited = await first.inject(logout(address));
    expect(limited.statusCode).toBe(429);
    expect(problemOf(limited)).toMatchObject({ type: 'urn:problem:wallet:rate-limited' });
    expect(limited.headers['ratelimit-limit']).toBe('2');
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await second.inject(logout(address))).statusCode).toBe(429);
    expect((await second.inject(logout('198.51.100.24'))).statusCode).toBe(204);
  });

  it('when Redis goes down the limits still hold, counted per replica, and no request fails or hangs', async () => {
    const own = await startValkey();
    let stopped = false;
    try {
      const gw = await replica(own.url, { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: 2 });
      const bearer = await gw.bearer(randomUUID());
      expect((await gw.inject(transfer(bearer))).statusCode).toBe(201);
      await own.stop();
      stopped = true;
      // In-process counting starts afresh: the budget applies again, per replica; never unlimited, never a 5xx.
      const statuses = [];
      for (let i = 0; i < 4; i += 1) statuses.push((await gw.inject(transfer(bearer))).statusCode);
      expect(statuses).toEqual([201, 201, 429, 429]);
      const metrics = await gw.inject({ method: 'GET', url: '/metrics' });
      expect(metrics.body).toMatch(/gateway_rate_limit_store_errors_total(\{[^}]*\})? [1-9]/);
      expect(gw.logLines.some((line) => line.includes('rate-limit store'))).toBe(true);
    } finally {
      if (!stopped) await own.stop();
    }
  });

  it('starts when Redis is unreachable, within the connect timeout, limiting per replica', async () => {
    const unreachable = `redis://127.0.0.1:${await closedPort()}`;
    const startedAtMs = Date.now();
    const gw = await replica(unreachable, { GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: 1, GATEWAY_REDIS_CONNECT_TIMEOUT_MS: 300 });
    expect(Date.now() - startedAtMs).toBeLessThan(20_000);
    expect((await gw.inject(logout('203.0.113.77'))).statusCode).toBe(204);
    expect((await gw.inject(logout('203.0.113.77'))).statusCode).toBe(429);
    expect(gw.logLines.some((line) => line.includes('not reachable at start'))).toBe(true);
  });
});

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
