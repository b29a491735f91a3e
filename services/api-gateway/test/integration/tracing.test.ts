import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { BankServiceService, type BankServiceServer } from '@wallet/contracts/bank';
import { createMetricsRegistry, startGrpcServer } from '@wallet/platform';
import { SpanKind, SpanStatusCode, type ReadableSpan } from '@wallet/platform/tracing';
import { captureSpans, findSecretInSpans, unimplementedHandlers, waitFor, type SpanCapture } from '@wallet/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testGrpcSecurity } from '../../../../test/support/pki.js';
import { createGatewayClients } from '../../src/clients/grpc.js';
import { ALICE, ALICE_USER, BOB, startTestGateway, transferResponse, type TestGateway } from '../support/gateway.js';

// The gateway's spans with the real gRPC clients (mutual TLS, test PKI) against a
// bank stand-in, and the /auth/* proxy against an identity stand-in on loopback:
// SERVER span per request (public edge: a client's traceparent is only linked),
// CLIENT spans per gRPC call and identity call whose traceparent reaches the
// other side, X-Trace-Id, the RED metrics, and no credential in any span.

const CLIENT_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE_ID}-b7ad6b7169203331-01`;
const DEADLINE_MS = 5000;

interface Seen {
  traceparent?: string;
  authorization?: string;
}

/** A bank that completes every transfer, recording the trace and token metadata it got. */
async function startFakeBank(seen: Seen[]): Promise<{ address: string; close(): Promise<void> }> {
  const unimplemented = (_call: unknown, callback: (error: { code: number; details: string }) => void) =>
    callback({ code: GrpcStatus.UNIMPLEMENTED, details: 'not used here' });
  const implementation: BankServiceServer = {
    ...unimplementedHandlers<BankServiceServer>(BankServiceService),
    transferMoney: (call, callback) => {
      seen.push({
        traceparent: call.metadata.get('traceparent')[0] as string | undefined,
        authorization: call.metadata.get('authorization')[0] as string | undefined,
      });
      callback(null, transferResponse(call.request));
    },
    getBalance: unimplemented,
    depositMoney: unimplemented,
    getDeposit: unimplemented,
    createAccount: unimplemented,
    listAccounts: unimplemented,
  };
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [{ name: 'wallet.bank.v1.BankService', definition: BankServiceService, implementation }],
    credentials: (await testGrpcSecurity('bank-service')).serverCredentials(),
  });
  return { address: `127.0.0.1:${server.port}`, close: () => server.shutdown(1000) };
}

interface FakeIdentity {
  url: string;
  seen: Seen[];
  close(): Promise<void>;
}

/** The identity-service's token endpoint: password and refresh_token grants answered with tokens of `sign`. */
async function startFakeIdentity(sign: () => Promise<string>): Promise<FakeIdentity> {
  const seen: Seen[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      seen.push({ traceparent: String(request.headers.traceparent), authorization: request.headers.authorization });
      const grant = new URLSearchParams(Buffer.concat(chunks).toString()).get('grant_type');
      if (grant !== 'password' && grant !== 'refresh_token') {
        response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unsupported_grant_type' }));
        return;
      }
      void sign().then((accessToken) => {
        const body = { access_token: accessToken, token_type: 'Bearer', expires_in: 300, refresh_token: randomBytes(32).toString('base64url'), scope: 'wallet' };
        response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

let capture: SpanCapture;
let gw: TestGateway;
const bankSeen: Seen[] = [];
let identity: FakeIdentity;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  capture = captureSpans('api-gateway');
  const bank = await startFakeBank(bankSeen);
  cleanups.push(() => bank.close());
  // Tokens of the issuer the gateway trusts (gw is set before any request reaches this stand-in).
  identity = await startFakeIdentity(() => gw.issuer.sign({ sub: ALICE_USER }));
  cleanups.push(() => identity.close());
  const config = {
    GATEWAY_BANK_GRPC_ADDRESS: bank.address,
    GATEWAY_GRPC_DEADLINE_MS: DEADLINE_MS,
    GATEWAY_IDENTITY_URL: identity.url,
  };
  const registry = createMetricsRegistry('api-gateway');
  const clients = createGatewayClients(
    {
      GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: bank.address,
      GATEWAY_ANALYTICS_GRPC_ADDRESS: bank.address,
      GATEWAY_WEBHOOK_GRPC_ADDRESS: bank.address,
      GATEWAY_TOPUP_DEADLINE_MS: DEADLINE_MS,
      // A first mutual-TLS health probe on a busy machine can outlast the platform's 500 ms default.
      GATEWAY_GRPC_HEALTH_PROBE_INTERVAL_MS: 1000,
      GATEWAY_GRPC_HEALTH_PROBE_TIMEOUT_MS: 5000,
      ...config,
    },
    await testGrpcSecurity('api-gateway'),
    registry,
  );
  cleanups.push(() => clients.close());
  gw = await startTestGateway({ config, clients, registry });
  cleanups.push(() => gw.close());
}, 60_000);

afterAll(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await capture?.stop();
});

beforeEach(() => {
  capture.reset();
  bankSeen.length = 0;
  identity.seen.length = 0;
});

const transfer = (headers: Record<string, string> = {}, auth?: string) =>
  gw.inject({
    method: 'POST',
    url: `/accounts/${ALICE}/transfers`,
    headers: { 'content-type': 'application/json', 'idempotency-key': randomBytes(8).toString('hex'), ...headers },
    payload: { recipientAccountId: BOB, amount: '1.00' },
    ...(auth === undefined ? {} : { auth }),
  });

const login = () =>
  gw.inject({
    method: 'POST',
    url: '/auth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'grant_type=password&username=alice&password=alice-secret-password-1&client_id=wallet-cli',
  });

/** The SERVER span of route, once it ended (it ends after the answer is written). */
function serverSpan(route: string): Promise<ReadableSpan> {
  return waitFor(() => capture.spans().find((span) => span.kind === SpanKind.SERVER && span.attributes['http.route'] === route), {
    timeoutMs: 5000,
    what: `the SERVER span of ${route}`,
  });
}

const childOf = (parent: ReadableSpan) => (span: ReadableSpan) => span.parentSpanContext?.spanId === parent.spanContext().spanId;

describe('gateway tracing', () => {
  it('a REST request is one SERVER span "<METHOD> <route template>" with route, status and request id; X-Trace-Id is its trace id', async () => {
    const res = await transfer({ 'x-request-id': 'trace-test-1' });
    expect(res.statusCode).toBe(201);
    const span = await serverSpan('/accounts/:accountId/transfers');
    expect(span.name).toBe('POST /accounts/:accountId/transfers');
    expect(span.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/accounts/:accountId/transfers',
      'http.response.status_code': 201,
      'wallet.request_id': 'trace-test-1',
    });
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(res.headers['x-trace-id']).toBe(span.spanContext().traceId);
    expect(res.headers['x-request-id']).toBe('trace-test-1');
  });

  it('refusals carry X-Trace-Id too: a 401 is a SERVER span with its status, not a server fault', async () => {
    const res = await transfer({}, 'Bearer not-a-token');
    expect(res.statusCode).toBe(401);
    const span = await serverSpan('/accounts/:accountId/transfers');
    expect(span.attributes['http.response.status_code']).toBe(401);
    expect(span.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(res.headers['x-trace-id']).toBe(span.spanContext().traceId);
    expect(bankSeen).toHaveLength(0);
  });

  it('public edge: a client-sent traceparent becomes a link, never the parent', async () => {
    const res = await transfer({ traceparent: CLIENT_TRACEPARENT });
    expect(res.statusCode).toBe(201);
    const span = await serverSpan('/accounts/:accountId/transfers');
    expect(span.parentSpanContext).toBeUndefined();
    expect(span.spanContext().traceId).not.toBe(CLIENT_TRACE_ID);
    expect(span.links.map((link) => link.context.traceId)).toEqual([CLIENT_TRACE_ID]);
    expect(res.headers['x-trace-id']).toBe(span.spanContext().traceId);
    // The client's trace goes no further: the bank sees the gateway's.
    expect(bankSeen[0]?.traceparent).not.toContain(CLIENT_TRACE_ID);
  });

  it('the gRPC CLIENT span is a child of the SERVER span and its traceparent reaches the bank in the metadata', async () => {
    expect((await transfer()).statusCode).toBe(201);
    const server = await serverSpan('/accounts/:accountId/transfers');
    const client = capture.spans().filter((span) => span.kind === SpanKind.CLIENT).find(childOf(server));
    expect(client?.name).toBe('wallet.bank.v1.BankService/TransferMoney');
    expect(client?.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'wallet.bank.v1.BankService', 'rpc.method': 'TransferMoney', 'rpc.grpc.status_code': 0 });
    expect(bankSeen).toHaveLength(1);
    expect(bankSeen[0]!.traceparent).toBe(`00-${server.spanContext().traceId}-${client!.spanContext().spanId}-01`);
  });

  it('/auth/* proxy: a CLIENT span under the SERVER span, its traceparent sent to the identity-service', async () => {
    const res = await login();
    expect(res.statusCode).toBe(200);
    const server = await serverSpan('/auth/token');
    const client = capture.spans().filter((span) => span.kind === SpanKind.CLIENT).find(childOf(server));
    expect(client?.name).toBe('POST');
    expect(client?.attributes).toMatchObject({ 'http.request.method': 'POST', 'url.path': '/auth/token', 'http.response.status_code': 200, 'server.address': '127.0.0.1' });
    expect(identity.seen).toHaveLength(1);
    expect(identity.seen[0]!.traceparent).toBe(`00-${server.spanContext().traceId}-${client!.spanContext().spanId}-01`);
    expect(res.headers['x-trace-id']).toBe(server.spanContext().traceId);
  });

  it('the access log line carries the trace id of the request', async () => {
    const res = await transfer({ 'x-request-id': 'trace-log-1' });
    const line = gw.logLines.map((text) => JSON.parse(text) as Record<string, unknown>).find((entry) => entry.msg === 'request completed' && entry.requestId === 'trace-log-1');
    expect(line).toMatchObject({ trace_id: res.headers['x-trace-id'], route: '/accounts/:accountId/transfers', statusCode: 201 });
  });

  it('/metrics: the platform RED histograms and the rate-limit counter replace the gateway\'s own', async () => {
    expect((await transfer()).statusCode).toBe(201);
    await gw.inject({ method: 'GET', url: `/no/such/${BOB}` });
    const metrics = (await gw.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/http_server_request_duration_seconds_count\{[^}]*method="POST"[^}]*route="\/accounts\/:accountId\/transfers"[^}]*status_code="201"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/http_server_request_duration_seconds_count\{[^}]*route="unmatched"[^}]*status_code="404"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/http_server_request_duration_seconds_bucket\{[^}]*le="0.25"/);
    expect(metrics).toMatch(/grpc_client_handling_seconds_count\{[^}]*grpc_service="wallet\.bank\.v1\.BankService",grpc_method="TransferMoney",grpc_code="OK"[^}]*\} [1-9]/);
    expect(metrics).toContain('# TYPE gateway_rate_limit_rejections_total counter');
    for (const gone of ['http_requests_total', 'http_request_duration_seconds', 'grpc_client_call_duration_seconds', 'gateway_rate_limited_total']) {
      expect(metrics).not.toMatch(new RegExp(`^${gone}`, 'm'));
    }
    expect(metrics).not.toContain(BOB);
  });

  it('no span attribute holds the password, a token or the Authorization header across login, refresh and a transfer', async () => {
    const password = 'alice-secret-password-1';
    const loggedIn = await login();
    expect(loggedIn.statusCode).toBe(200);
    const { access_token: access, refresh_token: refresh } = loggedIn.json<{ access_token: string; refresh_token: string }>();
    const refreshed = await gw.inject({
      method: 'POST',
      url: '/auth/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: `grant_type=refresh_token&refresh_token=${refresh}`,
    });
    expect(refreshed.statusCode).toBe(200);
    const { access_token: access2, refresh_token: refresh2 } = refreshed.json<{ access_token: string; refresh_token: string }>();
    expect((await transfer({}, `Bearer ${access2}`)).statusCode).toBe(201);
    expect((await transfer({}, 'Bearer not-a-valid-token-but-secret-xyz')).statusCode).toBe(401);
    // Every token part on its own too (a span must not hold the signature or payload either).
    const secrets = [password, access, refresh, access2, refresh2, 'Bearer ', 'not-a-valid-token-but-secret-xyz', ...access2.split('.')];
    const spans = capture.spans();
    // The gateway's four requests (the bank stand-in's gRPC SERVER span is in the scan too).
    expect(spans.filter((span) => span.kind === SpanKind.SERVER && 'http.route' in span.attributes)).toHaveLength(4);
    expect(spans.filter((span) => span.kind === SpanKind.CLIENT).length).toBeGreaterThanOrEqual(3);
    expect(findSecretInSpans(spans, secrets)).toBeUndefined();
    // The token did travel where it must (the bank verifies it again): the scan is not vacuous.
    expect(bankSeen.at(-1)?.authorization).toBe(`Bearer ${access2}`);
  });
});
