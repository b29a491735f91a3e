import { SpanKind, SpanStatusCode, type ReadableSpan } from '@wallet/platform/tracing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEV_CLIENT, DEV_USERS } from '../../src/app/users.js';
import { clientToken, get, passwordLogin, postForm, refresh, register, startHarness, testFetch, type Harness } from '../support/harness.js';
import { captureSpans, findSecretInSpans, type SpanCapture } from '@wallet/testkit';

// Spans of the identity-service: one SERVER span per request (platform plugin,
// public edge: a caller's traceparent is linked, never the parent), a
// token.issue span per token request and a password.hash/verify span per
// argon2 call; none holds a password, token or client secret.

const bob = DEV_USERS[1];
const CALLER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CALLER_TRACEPARENT = `00-${CALLER_TRACE_ID}-b7ad6b7169203331-01`;

let capture: SpanCapture;
let h: Harness;

beforeAll(async () => {
  capture = captureSpans('identity-service');
  h = await startHarness({ IDENTITY_SEED_DEV_USERS: 'true', IDENTITY_LOGIN_FAILURES_MAX: '2' });
});
afterAll(async () => {
  await h?.stop();
  await capture?.stop();
});
beforeEach(() => capture.reset());

const serverSpans = (): ReadableSpan[] => capture.spans().filter((span) => span.kind === SpanKind.SERVER);
const named = (name: string): ReadableSpan[] => capture.spans().filter((span) => span.name === name);
const childrenOf = (parent: ReadableSpan, name: string): ReadableSpan[] =>
  named(name).filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);

/** Spans end after the answer is written: wait for the request's SERVER span. */
async function serverSpan(route: string): Promise<ReadableSpan> {
  const deadlineMs = Date.now() + 5000;
  for (;;) {
    const span = serverSpans().find((candidate) => candidate.attributes['http.route'] === route);
    if (span) return span;
    if (Date.now() > deadlineMs) throw new Error(`no SERVER span for ${route}; spans: ${capture.spans().map((s) => s.name).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('identity-service tracing', () => {
  it('a token request is a SERVER span "POST /auth/token" with route, status and request id; X-Trace-Id names its trace', async () => {
    const res = await postForm(`${h.url}/auth/token`, { grant_type: 'password', username: bob.username, password: bob.password }, { 'x-request-id': 'id-trace-1' });
    expect(res.status).toBe(200);
    const span = await serverSpan('/auth/token');
    expect(span.name).toBe('POST /auth/token');
    expect(span.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/auth/token', 'http.response.status_code': 200, 'wallet.request_id': 'id-trace-1' });
    expect(res.headers.get('x-trace-id')).toBe(span.spanContext().traceId);
    const issue = childrenOf(span, 'token.issue');
    expect(issue).toHaveLength(1);
    expect(issue[0]!.attributes['oauth.grant_type']).toBe('password');
    expect(childrenOf(issue[0]!, 'password.verify')).toHaveLength(1);
  });

  it('a refused login: token.issue carries error.type = the OAuth code; the SERVER span is not a server fault', async () => {
    const res = await passwordLogin(h, 'carol', 'not-carols-password');
    expect(res.status).toBe(400);
    const span = await serverSpan('/auth/token');
    expect(span.attributes['http.response.status_code']).toBe(400);
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    const [issue] = childrenOf(span, 'token.issue');
    expect(issue?.attributes['error.type']).toBe('invalid_grant');
    // An unknown user costs a verify all the same (no timing oracle), and shows as one.
    expect(childrenOf(issue!, 'password.verify').length).toBeGreaterThanOrEqual(1);
  });

  it('registration hashes the password in a password.hash span under the request', async () => {
    const res = await register(h, 'tracy', 'tracy-secret-password-1');
    expect(res.status).toBe(201);
    const span = await serverSpan('/auth/register');
    const hashes = named('password.hash').filter((hash) => hash.spanContext().traceId === span.spanContext().traceId);
    expect(hashes).toHaveLength(1);
    expect(hashes[0]!.attributes).toMatchObject({ 'password.algorithm': 'argon2id' });
  });

  it('public edge: a caller-sent traceparent becomes a link, not the parent', async () => {
    const res = await testFetch(`${h.url}/.well-known/jwks.json`, { headers: { traceparent: CALLER_TRACEPARENT } });
    expect(res.status).toBe(200);
    const span = await serverSpan('/.well-known/jwks.json');
    expect(span.spanContext().traceId).not.toBe(CALLER_TRACE_ID);
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.links.map((link) => link.context.traceId)).toEqual([CALLER_TRACE_ID]);
    expect(res.headers.get('x-trace-id')).toBe(span.spanContext().traceId);
  });

  it('no span holds a password, access or refresh token, client secret or Authorization value across every flow', async () => {
    const password = 'mallory-secret-password-1';
    const secrets: string[] = [DEV_CLIENT.clientSecret, password, ...DEV_USERS.map((u) => u.password)];
    await register(h, 'mallory', password);
    const login = await passwordLogin(h, 'mallory', password);
    const access = String(login.body.access_token);
    const refreshToken = String(login.body.refresh_token);
    secrets.push(access, refreshToken);
    const rotated = await refresh(h, refreshToken);
    secrets.push(String(rotated.body.access_token), String(rotated.body.refresh_token));
    await refresh(h, refreshToken); // reuse: the family is revoked
    const wrong = 'wrong-password-for-alice';
    secrets.push(wrong);
    for (let i = 0; i < 3; i += 1) await passwordLogin(h, DEV_USERS[0].username, wrong); // then locked
    const client = await clientToken(h, DEV_CLIENT.clientId, DEV_CLIENT.clientSecret);
    secrets.push(String(client.body.access_token));
    const basic = Buffer.from(`${DEV_CLIENT.clientId}:${DEV_CLIENT.clientSecret}`).toString('base64');
    secrets.push(basic);
    await postForm(`${h.url}/auth/token`, { grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` });
    await get(`${h.url}/users/${DEV_USERS[0].userId}`, { authorization: `Bearer ${String(client.body.access_token)}` });
    await get(`${h.url}/users/${DEV_USERS[0].userId}?password=${encodeURIComponent(password)}`, { authorization: `Bearer ${access}` });
    await postForm(`${h.url}/auth/logout`, { refresh_token: String(rotated.body.refresh_token) });
    await serverSpan('/auth/logout');
    expect(capture.spans().length).toBeGreaterThan(20);
    expect(named('password.verify').length).toBeGreaterThan(3);
    expect(findSecretInSpans(capture.spans(), secrets)).toBeUndefined();
  });

  it('/metrics (ops port): http_server_request_duration_seconds by route template; identity_http_requests_total is gone', async () => {
    await passwordLogin(h, bob.username, bob.password);
    await get(`${h.url}/no/such/route`);
    const metrics = await (await fetch(`${h.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="\/auth\/token"[^}]*status_code="200"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="unmatched"[^}]*status_code="404"[^}]*\} [1-9]/);
    expect(metrics).toContain('identity_token_requests_total');
    expect(metrics).not.toContain('identity_http_requests_total');
  });
});
