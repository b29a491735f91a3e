import { loadConfig } from '@wallet/platform';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema, type GatewayConfig } from '../../src/config.js';
import { DOCS_CSP } from '../../src/plugins/security-headers.js';
import { ALICE, startTestGateway, type TestGateway } from '../support/gateway.js';

const API_CSP = "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'";

function expectHelmetHeaders(headers: Record<string, unknown>) {
  expect(headers['x-content-type-options']).toBe('nosniff');
  expect(headers['x-frame-options']).toBe('SAMEORIGIN');
  expect(headers['strict-transport-security']).toMatch(/^max-age=\d+/);
  expect(headers['referrer-policy']).toBe('no-referrer');
  expect(headers['cross-origin-opener-policy']).toBe('same-origin');
  expect(headers['x-powered-by']).toBeUndefined();
}

describe('security headers (helmet)', () => {
  let gw: TestGateway;
  afterEach(async () => {
    await gw.close();
  });

  it('are on every API answer: success, 401, 404, 400 and 429 alike, with a deny-all CSP', async () => {
    gw = await startTestGateway({ config: { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: 1 } });
    const transfer = () => ({
      method: 'POST' as const,
      url: `/accounts/${ALICE}/transfers`,
      headers: { 'content-type': 'application/json', 'idempotency-key': `sh-${Math.random()}` },
      payload: { recipientAccountId: '987e6543-e21b-34d3-c456-426614174999', amount: '1.00' },
    });
    const answers = [
      await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` }),
      await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, auth: false }),
      await gw.inject({ method: 'GET', url: '/nowhere' }),
      await gw.inject({ method: 'GET', url: `/accounts/not-a-uuid/balance` }),
      await gw.inject(transfer()),
      await gw.inject(transfer()),
    ];
    expect(answers.map((res) => res.statusCode)).toEqual([200, 401, 404, 400, 201, 429]);
    for (const res of answers) {
      expectHelmetHeaders(res.headers);
      expect(res.headers['content-security-policy']).toBe(API_CSP);
    }
  });

  it('Swagger UI at /docs gets a CSP that lets it run (own scripts and styles, same-origin calls) and still works', async () => {
    gw = await startTestGateway();
    const page = await gw.inject({ method: 'GET', url: '/docs/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toBe(DOCS_CSP);
    expectHelmetHeaders(page.headers);
    // The CSP has no 'unsafe-inline': the page must load every script from a URL on this origin.
    const scripts = [...page.body.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attributes, inline] of scripts) {
      const src = /src="([^"]+)"/.exec(attributes ?? '')?.[1];
      expect(src, 'inline script').toBeDefined();
      expect(src).not.toMatch(/^[a-z]+:|^\/\//i);
      expect(inline?.trim()).toBe('');
      const asset = await gw.inject({ method: 'GET', url: new URL(src!, 'http://gateway/docs/').pathname });
      expect(asset.statusCode).toBe(200);
      expect(asset.headers['content-security-policy']).toBe(DOCS_CSP);
    }
    const styles = [...page.body.matchAll(/<link rel="stylesheet"[^>]*href="([^"]+)"/g)];
    for (const [, href] of styles) {
      expect((await gw.inject({ method: 'GET', url: new URL(href!, 'http://gateway/docs/').pathname })).statusCode).toBe(200);
    }
    expect(page.body).not.toMatch(/\sstyle="|\son[a-z]+=/i);
    expect(DOCS_CSP).toContain("script-src 'self'");
    expect(DOCS_CSP).toContain("connect-src 'self'");
    expect(DOCS_CSP).not.toContain('unsafe');
    // Only the /docs routes get it: the API keeps the deny-all policy.
    expect((await gw.inject({ method: 'GET', url: '/healthz' })).headers['content-security-policy']).toBe(API_CSP);
  });
});

describe('CORS (allow-list from CORS_ORIGINS)', () => {
  let gw: TestGateway;
  afterEach(async () => {
    await gw.close();
  });

  const preflight = (origin: string) => ({
    method: 'OPTIONS' as const,
    url: `/accounts/${ALICE}/transfers`,
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,idempotency-key' },
  });

  it('development default: http://localhost:3000 and http://127.0.0.1:3000 are allowed, nothing else', async () => {
    gw = await startTestGateway();
    for (const origin of ['http://localhost:3000', 'http://127.0.0.1:3000']) {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin } });
      expect(res.headers['access-control-allow-origin']).toBe(origin);
      expect(String(res.headers.vary)).toMatch(/origin/i);
      expect(String(res.headers['access-control-expose-headers'])).toContain('RateLimit-Remaining');
      const pre = await gw.inject(preflight(origin));
      expect(pre.statusCode).toBe(204);
      expect(pre.headers['access-control-allow-origin']).toBe(origin);
      expect(String(pre.headers['access-control-allow-methods'])).toContain('POST');
    }
    for (const origin of ['https://evil.example', 'http://localhost:3001', 'null']) {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin } });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect((await gw.inject(preflight(origin))).headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('production: only the listed origins get Access-Control-Allow-Origin, on errors too', async () => {
    gw = await startTestGateway({ config: { NODE_ENV: 'production', CORS_ORIGINS: 'https://wallet.example, https://admin.wallet.example' } });
    const allowed = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin: 'https://admin.wallet.example' } });
    expect(allowed.headers['access-control-allow-origin']).toBe('https://admin.wallet.example');
    const unauthenticated = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin: 'https://wallet.example' }, auth: false });
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.headers['access-control-allow-origin']).toBe('https://wallet.example');
    for (const origin of ['http://localhost:3000', 'https://wallet.example.evil.example', 'https://evil.example']) {
      const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin } });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
  });

  it('production without CORS_ORIGINS allows no cross-origin caller at all', async () => {
    gw = await startTestGateway({ config: { NODE_ENV: 'production' } });
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin: 'http://localhost:3000' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('"*" is accepted in development only', async () => {
    gw = await startTestGateway({ config: { CORS_ORIGINS: '*' } });
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, headers: { origin: 'https://any.example' } });
    expect(res.headers['access-control-allow-origin']).toBe('*');
  });
});

describe('edge configuration is checked at start, naming the variable', () => {
  const load = (env: Record<string, string>): GatewayConfig => loadConfig(configSchema, env);

  it('refuses CORS_ORIGINS=* when NODE_ENV=production', () => {
    expect(() => load({ NODE_ENV: 'production', CORS_ORIGINS: '*' })).toThrow(/CORS_ORIGINS: "\*" is refused when NODE_ENV=production/);
    expect(() => load({ NODE_ENV: 'production', CORS_ORIGINS: 'https://a.example,*' })).toThrow(/CORS_ORIGINS/);
    expect(load({ CORS_ORIGINS: '*' }).CORS_ORIGINS).toBe('*');
  });

  it('refuses CORS_ORIGINS entries that are not origins', () => {
    for (const bad of ['https://a.example/', 'https://a.example/path', 'a.example', 'ftp://a.example', 'https://a.example,nope']) {
      expect(() => load({ CORS_ORIGINS: bad }), bad).toThrow(/CORS_ORIGINS: not an origin/);
    }
    expect(load({ CORS_ORIGINS: 'https://a.example, http://localhost:5173' }).CORS_ORIGINS).toBe('https://a.example, http://localhost:5173');
  });

  it('GATEWAY_TRUST_PROXY takes false, a hop count or addresses/CIDRs, and refuses true', () => {
    for (const good of ['false', '0', '1', '2', '10.0.0.0/8', '10.0.0.1, 192.168.0.0/16', 'loopback', '::1', 'fd00::/8', '10.0.0.0/255.0.0.0']) {
      expect(() => load({ GATEWAY_TRUST_PROXY: good }), good).not.toThrow();
    }
    expect(() => load({ GATEWAY_TRUST_PROXY: 'true' })).toThrow(/GATEWAY_TRUST_PROXY: true would let any client choose its own address/);
    for (const bad of ['11', '10.0.0.0/33', 'proxy.example', '10.0.0.1/8/1', '-1']) {
      expect(() => load({ GATEWAY_TRUST_PROXY: bad }), bad).toThrow(/GATEWAY_TRUST_PROXY/);
    }
  });

  it('REDIS_URL must be a redis:// or rediss:// URL', () => {
    expect(load({ REDIS_URL: 'redis://127.0.0.1:6379' }).REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(() => load({ REDIS_URL: 'http://127.0.0.1:6379' })).toThrow(/REDIS_URL/);
  });
});
