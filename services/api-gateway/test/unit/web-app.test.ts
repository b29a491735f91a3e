import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_APP_CSP } from '../../src/plugins/web-app.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const INDEX = '<!doctype html><title>E-Wallet</title><script type="module" src="/app/assets/index-abc.js"></script>';

describe('the web app at /app and /console (plugins/web-app.ts)', () => {
  let gw: TestGateway;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'web-app-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), INDEX);
    writeFileSync(join(dir, 'assets', 'index-abc.js'), 'console.log(1)');
    writeFileSync(join(dir, 'secret.txt'), 'not served');
    gw = await startTestGateway({ config: { GATEWAY_WEB_APP_DIR: dir } });
  });
  afterAll(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html for every client-side route of both products, with the web app CSP', async () => {
    for (const url of ['/app/', '/app/send', '/app/callback?code=x&state=y', '/console/', '/console/accounts']) {
      const res = await gw.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toBe(INDEX);
      expect(res.headers['content-security-policy']).toBe(WEB_APP_CSP);
      expect(res.headers['cache-control']).toBe('no-cache');
    }
    expect(WEB_APP_CSP).toContain("script-src 'self'");
    expect(WEB_APP_CSP).toContain("frame-ancestors 'none'");
    expect(WEB_APP_CSP).not.toContain('unsafe-inline');
  });

  it('redirects the bare prefixes to the app', async () => {
    for (const prefix of ['/app', '/console']) {
      const res = await gw.inject({ method: 'GET', url: prefix });
      expect(res.statusCode).toBe(308);
      expect(res.headers.location).toBe(`${prefix}/`);
    }
  });

  it('serves built assets by exact name, cached immutably; a missing asset is 404, never the page', async () => {
    const js = await gw.inject({ method: 'GET', url: '/app/assets/index-abc.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toContain('immutable');
    expect(js.body).toBe('console.log(1)');
    expect((await gw.inject({ method: 'GET', url: '/app/assets/index-old.js' })).statusCode).toBe(404);
  });

  it('never reaches a file outside the built assets', async () => {
    for (const url of ['/app/secret.txt', '/app/assets/../secret.txt', '/app/..%2fsecret.txt', '/app/assets/..%2f..%2fpackage.json', '/console/assets/index-abc.js']) {
      const res = await gw.inject({ method: 'GET', url });
      expect(res.body, url).not.toContain('not served');
      expect(res.body, url).not.toContain('console.log');
    }
  });

  it('leaves the API its deny-all CSP', async () => {
    const res = await gw.inject({ method: 'GET', url: '/healthz' });
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
  });
});

describe('the web app before a build', () => {
  it('answers 503 saying how to build it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'web-app-empty-'));
    const gw = await startTestGateway({ config: { GATEWAY_WEB_APP_DIR: empty } });
    try {
      const res = await gw.inject({ method: 'GET', url: '/app/' });
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain('npm run build');
    } finally {
      await gw.close();
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
