// Mutual TLS on the card top-up path (ADR 0009), both hops of the adapter:
//
// api-gateway -> bank-card-adapter (gRPC): a client that is plaintext, has no
// certificate, one from another CA, or an expired one is refused at the TLS
// handshake (UNAVAILABLE; no handler runs, nothing journaled or charged); a
// valid certificate of a service not in the caller table (analytics-service)
// gets PERMISSION_DENIED CALLER_NOT_ALLOWED, counted and logged, nothing
// charged; api-gateway tops up.
//
// bank-card-adapter -> payment-gateway-mock (HTTPS): without a client
// certificate the handshake is refused; with another service's certificate
// the mock answers 403 caller_not_allowed, which the client classifies as a
// refusal (nothing charged); a server that is not payment-gateway-mock is
// refused by the client before anything is sent; the adapter's own
// certificate is served, and a rotated one is used for the next connection.
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import type { TLSSocket } from 'node:tls';
import path from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { BankCardAdapterServiceClient, TopUpStatus } from '@wallet/contracts/card-adapter';
import { createGrpcClient } from '@wallet/platform';
import { CALLER_NOT_ALLOWED, mtlsServerOptions, ReloadingCertificateProvider } from '@wallet/platform/tls';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { Agent, fetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { issueServiceCertificate, loadCa, writeServiceFiles } from '../../../../scripts/lib/pki.mjs';
import { rogueClientTransport, testClientTransport, testGrpcSecurity, testPki, type RogueClientKind, type ServiceName } from '../../../../test/support/pki.js';
import { HttpPaymentGateway } from '../../src/clients/payment-gateway/http.js';
import { PaymentGatewayError } from '../../src/clients/payment-gateway/types.js';
import { PAYMENT_GATEWAY_SERVICE_NAME } from '../../src/config.js';
import { closeTestIssuer } from '../support/auth.js';
import { ControllableGateway } from '../support/controllable-gateway.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { callGetTopUp, callTopUp, journalByKey, request, startTestAdapter, TEST_PAYMENT_GATEWAY_API_KEY, type TestAdapter } from '../support/harness.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let mock: MockGatewayProcess;
let gateway: ControllableGateway;
let t: TestAdapter;

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_mtls');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  bank = await new FakeBank().start();
  mock = await MockGatewayProcess.start(db.url);
  gateway = new ControllableGateway(await gatewayClient(mock.url, 5_000));
  t = await startTestAdapter({ DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address }, { gateway });
});

afterAll(async () => {
  await t?.stop();
  await mock?.stop();
  await bank?.stop();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

const adapterAddress = () => `127.0.0.1:${t.adapter.grpc.port}`;

/** A top-up through `client` that must change nothing: no journal row, no charge sent, no deposit. */
async function topUpChangingNothing(client: BankCardAdapterServiceClient) {
  const req = request();
  const [chargesBefore, depositsBefore] = [gateway.chargeCalls, bank.depositCalls.length];
  const result = await callTopUp(client, req, 5_000);
  expect(await journalByKey(pool, req.idempotencyKey)).toBeUndefined();
  expect(gateway.chargeCalls).toBe(chargesBefore);
  expect(bank.depositCalls.length).toBe(depositsBefore);
  return result;
}

async function deniedCount(rpc: string, caller: string): Promise<number> {
  const text = await (await globalThis.fetch(`http://127.0.0.1:${t.adapter.ops.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('card_adapter_grpc_callers_denied_total{') && l.includes(`rpc="${rpc}"`) && l.includes(`caller="${caller}"`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('api-gateway -> bank-card-adapter (gRPC, mutual TLS, caller table)', () => {
  it.each<RogueClientKind>(['plaintext', 'no-certificate', 'other-ca', 'expired'])('a %s client is refused at the handshake (UNAVAILABLE); nothing journaled or charged', async (kind) => {
    const client = createGrpcClient(BankCardAdapterServiceClient, adapterAddress(), await rogueClientTransport(kind, 'bank-card-adapter', 'api-gateway'));
    try {
      const result = await topUpChangingNothing(client);
      expect(result.err?.code).toBe(Status.UNAVAILABLE);
    } finally {
      client.close();
    }
  });

  it('a valid certificate of a service not in the table (analytics-service) gets PERMISSION_DENIED CALLER_NOT_ALLOWED, counted and logged; nothing charged', async () => {
    const before = await deniedCount('processCardTopUp', 'analytics-service');
    const client = createGrpcClient(BankCardAdapterServiceClient, adapterAddress(), await testClientTransport('bank-card-adapter', 'analytics-service'));
    try {
      const result = await topUpChangingNothing(client);
      expect(result.err).toMatchObject({ code: Status.PERMISSION_DENIED, reason: CALLER_NOT_ALLOWED, domain: 'card-adapter.wallet' });
      expect(result.err?.metadata).toMatchObject({ caller: 'analytics-service' });
      expect((await callGetTopUp(client, { topUpId: randomUUID() })).err).toMatchObject({ code: Status.PERMISSION_DENIED, reason: CALLER_NOT_ALLOWED });
    } finally {
      client.close();
    }
    expect(await deniedCount('processCardTopUp', 'analytics-service')).toBe(before + 1);
    expect(await deniedCount('getTopUp', 'analytics-service')).toBeGreaterThanOrEqual(1);
    expect(t.lines.some((line) => line.includes('gRPC caller refused') && line.includes('analytics-service') && line.includes('"level":40'))).toBe(true);
  });

  it('api-gateway tops up (charged once, deposited once)', async () => {
    const result = await t.topUp({});
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    expect(bank.callsFor(`topup-${result.ok!.topUp!.id}`)).toBe(1);
  });
});

function chargeOf(key: string) {
  return { idempotencyKey: key, amountMinor: 1_000n, currency: 'USD', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2035, cvc: '123' } };
}

async function chargedWith(key: string): Promise<number> {
  const { rows } = await pool.query('SELECT 1 FROM payment_gateway_mock.charges WHERE idempotency_key = $1', [key]);
  return rows.length;
}

async function failureOf(promise: Promise<unknown>): Promise<PaymentGatewayError> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (outcome instanceof PaymentGatewayError) return outcome;
  throw new Error(`expected a PaymentGatewayError, got ${String(outcome)}`);
}

/** An HTTPS server with `service`'s certificate that records the client certificate's serial of each request. */
async function recordingServer(service: ServiceName): Promise<{ server: Server; url: string; serials: string[] }> {
  const serials: string[] = [];
  const server = createServer(mtlsServerOptions((await testGrpcSecurity(service)).mtls!.provider), (req, res) => {
    serials.push((req.socket as TLSSocket).getPeerCertificate().serialNumber);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, serials };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('bank-card-adapter -> payment-gateway-mock (HTTPS, mutual TLS)', () => {
  it('a client without a certificate is refused at the handshake; nothing charged', async () => {
    const key = `no-cert-${randomUUID()}`;
    const agent = new Agent({ connect: { ca: readFileSync((await testPki()).caFile), servername: PAYMENT_GATEWAY_SERVICE_NAME } });
    try {
      const body = JSON.stringify({ amountMinor: '1000', currency: 'USD', card: chargeOf(key).card });
      const headers = { authorization: `Bearer ${TEST_PAYMENT_GATEWAY_API_KEY}`, 'idempotency-key': key, 'content-type': 'application/json' };
      await expect(fetch(`${mock.url}/v1/charges`, { method: 'POST', headers, body, dispatcher: agent })).rejects.toThrow();
    } finally {
      await agent.close();
    }
    expect(await chargedWith(key)).toBe(0);
  });

  it('the certificate of another service (analytics-service) is refused: 403 caller_not_allowed, a refusal for the saga; nothing charged', async () => {
    const wrong = await gatewayClient(mock.url, 5_000, 'analytics-service');
    try {
      const key = `wrong-${randomUUID()}`;
      expect(await failureOf(wrong.charge(chargeOf(key)))).toMatchObject({ kind: 'rejected', code: 'caller_not_allowed' });
      expect(await chargedWith(key)).toBe(0);
    } finally {
      await wrong.close();
    }
  });

  it('a server that is not payment-gateway-mock (bank-service certificate) is refused by the client: not processed, nothing sent', async () => {
    const impostor = await recordingServer('bank-service');
    const client = await gatewayClient(impostor.url, 5_000);
    try {
      expect(await failureOf(client.charge(chargeOf(`impostor-${randomUUID()}`)))).toMatchObject({ kind: 'not_processed', code: 'tls_handshake_refused' });
    } finally {
      await client.close();
      await closeServer(impostor.server);
    }
  });

  it("the adapter's certificate with the API key is served", async () => {
    const right = await gatewayClient(mock.url, 5_000);
    try {
      const key = `right-${randomUUID()}`;
      expect(await right.charge(chargeOf(key))).toMatchObject({ status: 'succeeded' });
      expect(await chargedWith(key)).toBe(1);
    } finally {
      await right.close();
    }
  });

  it('a rotated client certificate is used for the next request (the agent is rebuilt on reload)', async () => {
    const pki = await testPki();
    const dir = mkdtempSync(path.join(tmpdir(), 'card-adapter-rotation-'));
    const own = pki.services['bank-card-adapter']!;
    const files = { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'bank-card-adapter.pem'), keyFile: path.join(dir, 'bank-card-adapter-key.pem') };
    cpSync(pki.caFile, files.caFile);
    cpSync(own.certFile, files.certFile);
    cpSync(own.keyFile, files.keyFile);
    const provider = new ReloadingCertificateProvider({ ...files, reloadIntervalMs: 0, reloadOnSighup: false });
    const server = await recordingServer('payment-gateway-mock');
    const client = new HttpPaymentGateway(server.url, 5_000, { apiKey: TEST_PAYMENT_GATEWAY_API_KEY, tls: provider, serverServiceName: PAYMENT_GATEWAY_SERVICE_NAME });
    try {
      // Kept-alive connections with the first certificate: without a new agent the next request would reuse one.
      await client.ping();
      await client.ping();
      const [first] = server.serials;
      expect(new Set(server.serials)).toEqual(new Set([first]));
      const ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
      writeServiceFiles(dir, 'bank-card-adapter', await issueServiceCertificate(ca, 'bank-card-adapter'));
      expect(provider.reload()).toMatchObject({ outcome: 'reloaded' });
      await client.ping();
      expect(server.serials).toHaveLength(3);
      expect(server.serials[2]).not.toBe(first);
    } finally {
      await client.close();
      provider.close();
      await closeServer(server.server);
    }
  });
});
