import { freePort } from '@wallet/testkit';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

// /auth/* is forwarded to the identity-service: the real undici client against
// a loopback stand-in that records what it got and answers what a test says.

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Answer = (seen: Seen, response: ServerResponse) => void;

interface FakeIdentity {
  url: string;
  seen: Seen[];
  answer: Answer;
  close(): Promise<void>;
}

async function startFakeIdentity(): Promise<FakeIdentity> {
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
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Answer => (_seen, response) => {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
};

const PASSWORD = 'alice-wallet-demo-pw';
const TOKEN_FORM = `grant_type=password&username=alice&password=${PASSWORD}&client_id=wallet-cli`;
const TOKEN_RESPONSE = { access_token: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln', token_type: 'Bearer', expires_in: 900, refresh_token: 'r-secret-refresh', scope: 'wallet' };

describe('/auth/* forwarded to the identity-service', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  async function setUp(config: Record<string, unknown> = {}): Promise<{ gw: TestGateway; identity: FakeIdentity }> {
    const identity = await startFakeIdentity();
    const gw = await startTestGateway({ config: { GATEWAY_IDENTITY_URL: identity.url, ...config } });
    cleanups.push(() => identity.close(), () => gw.close());
    return { gw, identity };
  }

  const token = (gw: TestGateway, headers: Record<string, string> = {}) =>
    gw.inject({ method: 'POST', url: '/auth/token', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, payload: TOKEN_FORM });

  it('token: the form body and client authentication reach the identity-service unchanged; status, body and caching headers come back unchanged', async () => {
    const { gw, identity } = await setUp();
    identity.answer = json(200, TOKEN_RESPONSE, { 'cache-control': 'no-store', pragma: 'no-cache', 'set-cookie': 'internal=1', 'x-internal': 'secret' });
    const res = await token(gw, { authorization: 'Basic d2FsbGV0LWNsaTo=', 'x-request-id': 'auth-req-1' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(TOKEN_RESPONSE);
    expect(res.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache', 'content-type': 'application/json; charset=utf-8' });
    // Only the headers that matter are relayed.
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['x-internal']).toBeUndefined();
    expect(identity.seen).toHaveLength(1);
    expect(identity.seen[0]).toMatchObject({ method: 'POST', url: '/auth/token', body: TOKEN_FORM });
    expect(identity.seen[0]!.headers).toMatchObject({
      'content-type': 'application/x-www-form-urlencoded',
      authorization: 'Basic d2FsbGV0LWNsaTo=',
      'x-request-id': 'auth-req-1',
    });
  });

  it('an X-Request-Id beyond its documented bounds is refused with 400 problem+json, as on every route, before the identity-service is called', async () => {
    const { gw, identity } = await setUp();
    const res = await token(gw, { 'x-request-id': 'r'.repeat(200) });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(identity.seen).toHaveLength(0);
  });

  it('forwards the client address the gateway trusts, never an X-Forwarded-For the client sent', async () => {
    const { gw, identity } = await setUp();
    identity.answer = json(200, TOKEN_RESPONSE, { 'cache-control': 'no-store' });
    await token(gw, { 'x-forwarded-for': '203.0.113.9' });
    expect(identity.seen[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
  });

  it('token errors stay RFC 6749 JSON (not problem+json): 400 invalid_grant, 401 invalid_client with its challenge', async () => {
    const { gw, identity } = await setUp();
    identity.answer = json(400, { error: 'invalid_grant', error_description: 'wrong username or password' }, { 'cache-control': 'no-store' });
    const denied = await token(gw);
    expect(denied.statusCode).toBe(400);
    expect(denied.headers['content-type']).toMatch(/^application\/json/);
    expect(denied.json()).toEqual({ error: 'invalid_grant', error_description: 'wrong username or password' });

    identity.answer = json(401, { error: 'invalid_client' }, { 'www-authenticate': 'Basic realm="wallet"' });
    const client = await token(gw, { authorization: 'Basic eDp5' });
    expect(client.statusCode).toBe(401);
    expect(client.headers['www-authenticate']).toBe('Basic realm="wallet"');
    expect(client.json()).toEqual({ error: 'invalid_client' });
  });

  it('429 lockout: Retry-After and RateLimit headers relayed', async () => {
    const { gw, identity } = await setUp();
    identity.answer = (_seen, response) => {
      response.writeHead(429, { 'content-type': 'application/problem+json', 'retry-after': '900', 'ratelimit-limit': '10', 'ratelimit-remaining': '0', 'ratelimit-reset': '900' });
      response.end(JSON.stringify({ type: 'urn:problem:identity:login-locked', title: 'Locked', status: 429, detail: 'try later', code: 'LOGIN_LOCKED' }));
    };
    const res = await token(gw);
    expect(res.statusCode).toBe(429);
    expect(res.headers).toMatchObject({ 'retry-after': '900', 'ratelimit-limit': '10', 'ratelimit-remaining': '0', 'ratelimit-reset': '900' });
    expect(problemOf(res)).toMatchObject({ code: 'LOGIN_LOCKED' });
  });

  it('register: JSON body forwarded, 201 and 409 relayed; no token needed', async () => {
    const { gw, identity } = await setUp();
    identity.answer = json(201, { userId: 'u-1', username: 'carol' });
    const body = { username: 'carol', password: 'carol-wallet-demo-pw' };
    const created = await gw.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': 'application/json' }, payload: body });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toEqual({ userId: 'u-1', username: 'carol' });
    expect(JSON.parse(identity.seen[0]!.body)).toEqual(body);
    expect(identity.seen[0]!.headers.authorization).toBeUndefined();

    identity.answer = (_seen, response) => {
      response.writeHead(409, { 'content-type': 'application/problem+json' });
      response.end(JSON.stringify({ type: 'urn:problem:identity:username-taken', title: 'Taken', status: 409, detail: 'taken', code: 'USERNAME_TAKEN' }));
    };
    const taken = await gw.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': 'application/json' }, payload: body });
    expect(taken.statusCode).toBe(409);
    expect(problemOf(taken)).toMatchObject({ code: 'USERNAME_TAKEN' });
  });

  it('logout: 204 with no body', async () => {
    const { gw, identity } = await setUp();
    identity.answer = (_seen, response) => {
      response.writeHead(204, { 'cache-control': 'no-store' });
      response.end();
    };
    const res = await gw.inject({
      method: 'POST',
      url: '/auth/logout',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'refresh_token=r-secret-refresh',
    });
    expect(res.statusCode).toBe(204);
    expect(res.body).toBe('');
    expect(identity.seen[0]!.body).toBe('refresh_token=r-secret-refresh');
  });

  it('any media type, or none, reaches the identity-service as sent: it decides (415, invalid_request)', async () => {
    const { gw, identity } = await setUp();
    identity.answer = (_seen, response) => {
      response.writeHead(415, { 'content-type': 'application/problem+json' });
      response.end(JSON.stringify({ type: 'urn:problem:identity:unsupported-media-type', title: 'Unsupported', status: 415, detail: 'no' }));
    };
    const plain = await gw.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': 'text/plain' }, payload: 'username=x' });
    expect(plain.statusCode).toBe(415);
    expect(identity.seen[0]).toMatchObject({ body: 'username=x', headers: { 'content-type': 'text/plain' } });
    const bare = await gw.inject({ method: 'POST', url: '/auth/logout', payload: 'refresh_token=x' });
    expect(bare.statusCode).toBe(415);
    expect(identity.seen).toHaveLength(2);
    const empty = await gw.inject({ method: 'POST', url: '/auth/logout' });
    expect(empty.statusCode).toBe(415);
    expect(identity.seen[2]!.body).toBe('');
  });

  it('identity-service unreachable: 503 problem+json with Retry-After', async () => {
    const gw = await startTestGateway({ config: { GATEWAY_IDENTITY_URL: `http://127.0.0.1:${await freePort()}` } });
    cleanups.push(() => gw.close());
    const res = await token(gw);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:service-unavailable', code: 'IDENTITY_UNAVAILABLE' });
  });

  it('identity-service silent: 504 at the deadline (the outcome is unknown)', async () => {
    const { gw, identity } = await setUp({ GATEWAY_IDENTITY_TIMEOUT_MS: 300 });
    identity.answer = () => undefined; // never answers
    const res = await gw.inject({ method: 'POST', url: '/auth/register', headers: { 'content-type': 'application/json' }, payload: { username: 'dave', password: 'dave-wallet-demo-pw' } });
    expect(res.statusCode).toBe(504);
    expect(problemOf(res)).toMatchObject({ code: 'IDENTITY_TIMEOUT' });
  });

  it('an answer larger than the bound, or a status the contract does not declare: 502, nothing relayed', async () => {
    const { gw, identity } = await setUp({ GATEWAY_IDENTITY_RESPONSE_BYTES_MAX: 1024 });
    identity.answer = json(200, { ...TOKEN_RESPONSE, padding: 'x'.repeat(4096) });
    const large = await token(gw);
    expect(large.statusCode).toBe(502);
    expect(problemOf(large)).toMatchObject({ code: 'IDENTITY_BAD_RESPONSE' });
    identity.answer = json(418, { teapot: true });
    expect((await token(gw)).statusCode).toBe(502);
  });

  it('never logs a password, refresh token or access token, even at trace level', async () => {
    const { gw, identity } = await setUp();
    identity.answer = json(200, TOKEN_RESPONSE, { 'cache-control': 'no-store' });
    await token(gw);
    await gw.inject({ method: 'POST', url: '/auth/logout', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'refresh_token=r-secret-refresh' });
    const logs = gw.logLines.join('\n');
    for (const secret of [PASSWORD, 'r-secret-refresh', TOKEN_RESPONSE.access_token]) expect(logs).not.toContain(secret);
  });
});
