import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// The authorization code flow's endpoints (/auth/authorize GET and POST, /auth/revoke) are
// forwarded to the identity-service like /auth/token: query, form body, the page's own CSP
// and the redirect's Location relayed unchanged.

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Answer = (seen: Seen, response: ServerResponse) => void;

async function startFakeIdentity(): Promise<{ url: string; seen: Seen[]; answer: Answer; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const fake = { seen, answer: ((_s, r) => r.end()) as Answer };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { method: request.method!, url: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      fake.answer(entry, response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(fake, {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

const PAGE_CSP = "default-src 'none'; style-src 'sha256-abc'; form-action 'self' http://localhost:8080; frame-ancestors 'none'";
const QUERY = '?response_type=code&client_id=wallet-web&redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fapp%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256&state=s1';

describe('/auth/authorize and /auth/revoke forwarded to the identity-service', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  async function setUp(): Promise<{ gw: TestGateway; identity: Awaited<ReturnType<typeof startFakeIdentity>> }> {
    const identity = await startFakeIdentity();
    const gw = await startTestGateway({ config: { GATEWAY_IDENTITY_URL: identity.url } });
    cleanups.push(() => identity.close(), () => gw.close());
    return { gw, identity };
  }

  it('GET: the query reaches the identity-service as sent; the HTML page comes back with its own CSP, not the API policy', async () => {
    const { gw, identity } = await setUp();
    identity.answer = (_seen, response) => {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': PAGE_CSP, 'cache-control': 'no-store', 'x-frame-options': 'DENY' });
      response.end('<!doctype html><form method="post" action="/auth/authorize"></form>');
    };
    const res = await gw.inject({ method: 'GET', url: `/auth/authorize${QUERY}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.body).toContain('<form method="post"');
    expect(identity.seen[0]).toMatchObject({ method: 'GET', url: `/auth/authorize${QUERY}`, body: '' });
  });

  it('POST: the form body is forwarded and the 303 Location (code and state) is relayed', async () => {
    const { gw, identity } = await setUp();
    const location = 'http://localhost:8080/app/callback?code=c0de&state=s1';
    identity.answer = (_seen, response) => {
      response.writeHead(303, { location, 'cache-control': 'no-store' });
      response.end();
    };
    const form = `${QUERY.slice(1)}&username=alice&password=alice-wallet-demo-pw`;
    const res = await gw.inject({ method: 'POST', url: '/auth/authorize', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: form });
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe(location);
    expect(identity.seen[0]).toMatchObject({ method: 'POST', url: '/auth/authorize', body: form });
  });

  it('the session cookie reaches /auth/authorize and GET /auth/logout with the browser scheme, and every Set-Cookie comes back', async () => {
    const { gw, identity } = await setUp();
    const cookies = ['wallet_idp_session=abc; Max-Age=60; Path=/auth/authorize; HttpOnly; SameSite=Lax', 'wallet_idp_session=abc; Max-Age=60; Path=/auth/logout; HttpOnly; SameSite=Lax'];
    identity.answer = (_seen, response) => {
      response.writeHead(303, [['location', 'http://localhost:8080/app/'], ['set-cookie', cookies[0]!], ['set-cookie', cookies[1]!]]);
      response.end();
    };
    const page = await gw.inject({ method: 'GET', url: `/auth/authorize${QUERY}&prompt=none`, headers: { cookie: 'wallet_idp_session=abc' } });
    expect(page.statusCode).toBe(303);
    expect(page.headers['set-cookie']).toEqual(cookies);
    const logout = await gw.inject({ method: 'GET', url: '/auth/logout?client_id=wallet-web&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fapp%2F&state=s2', headers: { cookie: 'wallet_idp_session=abc' } });
    expect(logout.statusCode).toBe(303);
    expect(logout.headers.location).toBe('http://localhost:8080/app/');
    expect(identity.seen.map((seen) => [seen.method, seen.url.split('?')[0], seen.headers.cookie, seen.headers['x-forwarded-proto']])).toEqual([
      ['GET', '/auth/authorize', 'wallet_idp_session=abc', 'http'],
      ['GET', '/auth/logout', 'wallet_idp_session=abc', 'http'],
    ]);
    expect(identity.seen[1]!.url).toBe('/auth/logout?client_id=wallet-web&post_logout_redirect_uri=http%3A%2F%2Flocalhost%3A8080%2Fapp%2F&state=s2');
  });

  it('no other /auth route gets the cookie forwarded', async () => {
    const { gw, identity } = await setUp();
    identity.answer = (_seen, response) => {
      response.writeHead(200, { 'cache-control': 'no-store' });
      response.end();
    };
    await gw.inject({ method: 'POST', url: '/auth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: 'wallet_idp_session=abc' }, payload: 'token=r-1&client_id=wallet-web' });
    expect(identity.seen[0]!.headers.cookie).toBeUndefined();
  });

  it('revoke: RFC 7009 200 relayed', async () => {
    const { gw, identity } = await setUp();
    identity.answer = (_seen, response) => {
      response.writeHead(200, { 'cache-control': 'no-store' });
      response.end();
    };
    const res = await gw.inject({ method: 'POST', url: '/auth/revoke', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=r-1&client_id=wallet-web' });
    expect(res.statusCode).toBe(200);
    expect(identity.seen[0]).toMatchObject({ method: 'POST', url: '/auth/revoke', body: 'token=r-1&client_id=wallet-web' });
  });
});
