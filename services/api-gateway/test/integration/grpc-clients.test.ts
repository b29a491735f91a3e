import { Server, status as GrpcStatus, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { AnalyticsServiceService } from '@wallet/contracts/analytics';
import { BankCardAdapterServiceService, type BankCardAdapterServiceServer } from '@wallet/contracts/card-adapter';
import { BankServiceService, type BankServiceServer, type GetBalanceRequest, type GetBalanceResponse } from '@wallet/contracts/bank';
import { createMetricsRegistry, richError, startGrpcServer, type RunningGrpcServer } from '@wallet/platform';
import { service as healthService } from 'grpc-health-check';
import { freePort, unimplementedHandlers, waitFor } from '@wallet/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testGrpcSecurity, type ServiceName } from '../../../../test/support/pki.js';
import { createGatewayClients } from '../../src/clients/grpc.js';
import { createGatewayBreakers, guardClients } from '../../src/clients/guarded.js';
import type { GatewayConfig } from '../../src/config.js';
import type { GatewayClients } from '../../src/clients/types.js';
import {
  ALICE,
  ALICE_USER,
  BOB,
  CREATED_AT,
  memoryLogger,
  problemOf,
  testConfig,
  startTestGateway,
  topUpResponse,
  transferResponse,
  type TestGateway,
} from '../support/gateway.js';

// The real gRPC clients against real (fake-behaving) gRPC servers on loopback,
// over mutual TLS with the test PKI (each fake presents the certificate of the
// service it plays): deadlines, transport failures, metadata and rich errors
// over the wire, and a server with the wrong service's certificate refused.

/** Long enough for a first mutual-TLS handshake on a busy machine (each test opens new channels), short for the hang tests. */
const DEADLINE_MS = 2000;
/** Generous ceiling that only catches a hang: far above the deadline, far below the test timeout. */
const NEVER_HANGS_MS = DEADLINE_MS + 9_500;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function gatewayWith(
  addresses: { bank: string; cardAdapter?: string; analytics?: string },
  options: { breakers?: Partial<GatewayConfig> } = {},
): Promise<{ gw: TestGateway; clients: GatewayClients }> {
  const closed = `127.0.0.1:${await freePort()}`;
  const config = {
    GATEWAY_BANK_GRPC_ADDRESS: addresses.bank,
    GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: addresses.cardAdapter ?? closed,
    GATEWAY_ANALYTICS_GRPC_ADDRESS: addresses.analytics ?? closed,
    GATEWAY_WEBHOOK_GRPC_ADDRESS: closed,
    GATEWAY_GRPC_DEADLINE_MS: DEADLINE_MS,
    GATEWAY_TOPUP_DEADLINE_MS: DEADLINE_MS,
    GATEWAY_READINESS_TIMEOUT_MS: DEADLINE_MS,
  };
  const registry = createMetricsRegistry('api-gateway');
  const raw = createGatewayClients(config, await testGrpcSecurity('api-gateway'), registry);
  const clients = options.breakers
    ? guardClients(raw, createGatewayBreakers(testConfig(options.breakers), registry, memoryLogger().logger))
    : raw;
  const gw = await startTestGateway({ config, clients, registry });
  cleanups.push(() => clients.close(), () => gw.close());
  return { gw, clients };
}

const transfer = (gw: TestGateway, auth?: string) =>
  gw.inject({
    method: 'POST',
    url: `/accounts/${ALICE}/transfers`,
    headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1', 'x-request-id': 'req-grpc-1' },
    payload: { recipientAccountId: BOB, amount: '1.00' },
    ...(auth === undefined ? {} : { auth }),
  });

/** A bank that answers like the real one would, recording what it received. */
interface SeenCall {
  requestId?: string;
  authorization?: string;
  deadlineMs?: number;
}

function recorder(seen: SeenCall[]) {
  return (call: ServerUnaryCall<unknown, unknown>) => {
    const deadline = call.getDeadline();
    seen.push({
      requestId: call.metadata.get('x-request-id')[0] as string | undefined,
      authorization: call.metadata.get('authorization')[0] as string | undefined,
      deadlineMs: deadline instanceof Date ? deadline.getTime() - Date.now() : Number(deadline) - Date.now(),
    });
  };
}

const bankError = (code: GrpcStatus, reason: string, message: string) => richError({ code, reason, message, domain: 'bank.wallet' });

/** A bank that answers like the real one; `presenting` is whose certificate it serves with (normally bank-service). */
interface FakeBank {
  server: RunningGrpcServer;
  address: string;
  seen: SeenCall[];
  /** When set and returning an error, TransferMoney answers it (after recording the call). */
  failWith?: () => Error | undefined;
}

async function startFakeBank(presenting: ServiceName = 'bank-service'): Promise<FakeBank> {
  const seen: SeenCall[] = [];
  const record = recorder(seen);
  const fake = { seen } as FakeBank;
  const implementation: BankServiceServer = {
    ...unimplementedHandlers<BankServiceServer>(BankServiceService),
    getDeposit: (_call, callback) => callback({ code: GrpcStatus.UNIMPLEMENTED, details: 'not used by the gateway' }),
    transferMoney: (call, callback) => {
      record(call);
      const failure = fake.failWith?.();
      if (failure) {
        callback(failure);
        return;
      }
      if (call.request.amount!.amountMinor > 100_00n) {
        callback(richError({ code: GrpcStatus.FAILED_PRECONDITION, reason: 'INSUFFICIENT_FUNDS', message: 'balance too low', domain: 'bank.wallet' }));
        return;
      }
      callback(null, transferResponse(call.request));
    },
    getBalance: (call: ServerUnaryCall<GetBalanceRequest, GetBalanceResponse>, callback: sendUnaryData<GetBalanceResponse>) => {
      record(call);
      if (call.request.accountId !== ALICE) {
        callback(richError({ code: GrpcStatus.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND', message: 'no such account', domain: 'bank.wallet' }));
        return;
      }
      callback(null, { accountId: ALICE, balance: { amountMinor: 123_45n, currencyCode: 'USD' }, updatedAt: CREATED_AT, available: { amountMinor: 123_45n, currencyCode: 'USD' }, pending: { amountMinor: 0n, currencyCode: 'USD' }, posted: { amountMinor: 123_45n, currencyCode: 'USD' }, overdraftLimit: { amountMinor: 0n, currencyCode: 'USD' } });
    },
    depositMoney: (_call, callback) => callback(richError({ code: GrpcStatus.UNIMPLEMENTED, reason: 'X', message: 'no', domain: 'bank.wallet' })),
    // Like the real bank: the caller's role decides (here: every opening is refused), and no token is UNAUTHENTICATED.
    createAccount: (call, callback) => {
      record(call);
      if (call.metadata.get('authorization').length === 0) {
        callback(bankError(GrpcStatus.UNAUTHENTICATED, 'CALLER_UNAUTHENTICATED', 'no caller identity'));
        return;
      }
      callback(bankError(GrpcStatus.PERMISSION_DENIED, 'ROLE_FORBIDDEN', 'support may not open accounts'));
    },
    listAccounts: (call, callback) => {
      record(call);
      callback(bankError(GrpcStatus.UNAUTHENTICATED, 'CALLER_UNAUTHENTICATED', 'the access token expired'));
    },
    // Issue #15 (F5): a statement of one entry, streamed as the real bank does (header, entries, footer).
    getStatement: (call) => {
      record(call as unknown as ServerUnaryCall<unknown, unknown>);
      const usd = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });
      const { accountId, from, to } = call.request;
      call.write({ part: { $case: 'header', value: { accountId, currency: 'USD', from, to, openingBalance: usd(100n) } } });
      const entry = { entryId: 7n, createdAt: CREATED_AT, entryType: 'deposit', amountMinor: 250n, balanceAfterMinor: 350n, referenceId: BOB, counterpartyAccountId: '', description: 'Card top-up 4242' };
      call.write({ part: { $case: 'entries', value: { entries: [entry] } } });
      call.write({ part: { $case: 'footer', value: { closingBalance: usd(350n), totalIn: usd(250n), totalOut: usd(0n), entryCount: 1n } } });
      call.end();
    },
  };
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [{ name: 'wallet.bank.v1.BankService', definition: BankServiceService, implementation }],
    credentials: (await testGrpcSecurity(presenting)).serverCredentials(),
  });
  cleanups.push(() => server.shutdown(1000));
  return Object.assign(fake, { server, address: `127.0.0.1:${server.port}` });
}

describe('statements over gRPC (issue 15 F5)', () => {
  it('streams GetStatement through the real client over mutual TLS, with the request id, the token and a deadline', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    const res = await gw.inject({
      method: 'GET',
      url: `/accounts/${ALICE}/statement?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z`,
      headers: { 'x-request-id': 'req-statement-1' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ openingBalance: '1.00', closingBalance: '3.50', entryCount: 1, entries: [{ entryId: '7', amount: '2.50', balance: '3.50' }] });
    expect(bank.seen.at(-1)).toMatchObject({ requestId: 'req-statement-1', authorization: expect.stringMatching(/^Bearer /) });
    expect(bank.seen.at(-1)!.deadlineMs).toBeGreaterThan(0);
  });
});

/** A card adapter that tops up every request, recording what it received. */
async function startFakeCardAdapter(): Promise<{ address: string; seen: SeenCall[] }> {
  const seen: SeenCall[] = [];
  const record = recorder(seen);
  const implementation: BankCardAdapterServiceServer = {
    ...unimplementedHandlers<BankCardAdapterServiceServer>(BankCardAdapterServiceService),
    processCardTopUp: (call, callback) => {
      record(call);
      callback(null, topUpResponse(call.request));
    },
    getTopUp: (_call, callback) => callback({ code: GrpcStatus.UNIMPLEMENTED, details: 'not used by the gateway' }),
  };
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    services: [{ name: 'wallet.cardadapter.v1.BankCardAdapterService', definition: BankCardAdapterServiceService, implementation }],
    credentials: (await testGrpcSecurity('bank-card-adapter')).serverCredentials(),
  });
  cleanups.push(() => server.shutdown(1000));
  return { address: `127.0.0.1:${server.port}`, seen };
}

/** A gRPC server (with `service`'s certificate) that accepts every call, health checks included, and never answers. */
async function startHangingServer(service: ServiceName): Promise<string> {
  const server = new Server();
  const never = () => {};
  server.addService(BankServiceService, { transferMoney: never, getBalance: never, depositMoney: never });
  server.addService(AnalyticsServiceService, { getOperations: never, getAccountSummary: never });
  server.addService(healthService as unknown as typeof BankServiceService, { Check: never, Watch: never, List: never } as never);
  const credentials = (await testGrpcSecurity(service)).serverCredentials();
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  cleanups.push(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

describe('gRPC clients over the wire', () => {
  // The first mutual-TLS call of a process loads and compiles grpc-js's TLS path; on a busy
  // machine that alone can outlast the short DEADLINE_MS of the first test. Pay it here, untimed.
  beforeAll(async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    await waitFor(async () => (await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` })).statusCode === 200, {
      timeoutMs: 30_000,
      what: 'a first call over mutual TLS',
    });
    while (cleanups.length > 0) await cleanups.pop()!();
  }, 60_000);

  it('bank unreachable (closed port): 503 with Retry-After, well within the deadline', async () => {
    const { gw } = await gatewayWith({ bank: `127.0.0.1:${await freePort()}` });
    const started = Date.now();
    const res = await transfer(gw);
    expect(Date.now() - started).toBeLessThan(NEVER_HANGS_MS);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:service-unavailable', requestId: 'req-grpc-1' });
    expect((await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` })).statusCode).toBe(503);
  });

  it('refuses a bank whose certificate names another service: 503 problem+json, the server never asked', async () => {
    // Same CA, valid certificate, wrong identity: the analytics-service's key cannot impersonate the bank.
    const impostor = await startFakeBank('analytics-service');
    const { gw } = await gatewayWith({ bank: impostor.address });
    const res = await transfer(gw);
    expect(res.statusCode).toBe(503);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:service-unavailable', requestId: 'req-grpc-1' });
    const balance = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(balance.statusCode).toBe(503);
    expect(balance.body).not.toContain('123.45');
    expect(impostor.seen).toEqual([]);
    const ready = await gw.inject({ method: 'GET', url: '/readyz' });
    expect(ready.json().checks.bank).toBe('UNAVAILABLE');
  });

  it('bank hangs (accepts, never answers): 504 at the deadline with the outcome unknown, never a hang', async () => {
    const { gw } = await gatewayWith({ bank: await startHangingServer('bank-service') });
    const started = Date.now();
    const res = await transfer(gw);
    expect(Date.now() - started).toBeLessThan(NEVER_HANGS_MS);
    // Its health probe only times out, which is what every replica of a saturated (slow, working)
    // system does too: the resolver keeps such replicas rather than refusing every call (slow is not
    // down), so the transfer is sent and its deadline decides. Unknown outcome: 504, retry with the key.
    expect(res.statusCode).toBe(504);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:upstream-timeout', code: 'DEADLINE_EXCEEDED' });
    const metrics = (await gw.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/grpc_client_handling_seconds_count\{[^}]*grpc_service="wallet\.bank\.v1\.BankService",grpc_method="TransferMoney",grpc_code="DEADLINE_EXCEEDED"[^}]*\} 1/);
  });

  it('forwards x-request-id as metadata and sets a deadline on every call', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    const res = await transfer(gw);
    expect(res.statusCode).toBe(201);
    expect(bank.seen).toHaveLength(1);
    expect(bank.seen[0]!.requestId).toBe('req-grpc-1');
    expect(bank.seen[0]!.deadlineMs).toBeGreaterThan(0);
    expect(bank.seen[0]!.deadlineMs).toBeLessThanOrEqual(DEADLINE_MS);
    const metrics = (await gw.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/grpc_client_handling_seconds_count\{[^}]*grpc_service="wallet\.bank\.v1\.BankService",grpc_method="TransferMoney",grpc_code="OK"[^}]*\} 1/);
  });

  it('forwards the verified bearer token as `authorization` metadata to the bank and the card adapter', async () => {
    const bank = await startFakeBank();
    const adapter = await startFakeCardAdapter();
    const { gw } = await gatewayWith({ bank: bank.address, cardAdapter: adapter.address });
    const bearer = await gw.bearer(ALICE_USER);
    expect((await transfer(gw, bearer)).statusCode).toBe(201);
    expect((await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance`, auth: bearer })).statusCode).toBe(200);
    const topUp = await gw.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/topup`,
      headers: { 'content-type': 'application/json', 'idempotency-key': 't-auth' },
      payload: { amount: '5.00', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } },
      auth: bearer,
    });
    expect(topUp.statusCode).toBe(201);
    expect(bank.seen.map((c) => c.authorization)).toEqual([bearer, bearer]);
    expect(adapter.seen.map((c) => c.authorization)).toEqual([bearer]);
  });

  it('maps the bank refusing the caller over the wire: UNAUTHENTICATED 401 + WWW-Authenticate, PERMISSION_DENIED 403 forbidden', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    const me = await gw.inject({ method: 'GET', url: '/me' });
    expect(me.statusCode).toBe(401);
    expect(me.headers['www-authenticate']).toMatch(/^Bearer realm="wallet", error="invalid_token"/);
    expect(problemOf(me)).toMatchObject({ type: 'urn:problem:wallet:unauthenticated', status: 401 });
    const open = await gw.inject({
      method: 'POST',
      url: '/accounts',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'open-1' },
      payload: { currency: 'USD' },
    });
    expect(open.statusCode).toBe(403);
    expect(problemOf(open)).toMatchObject({ type: 'urn:problem:wallet:forbidden', code: 'FORBIDDEN' });
  });

  it('maps ErrorInfo reasons carried over the wire (422 insufficient funds, 404 unknown account)', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    const res = await gw.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/transfers`,
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-2' },
      payload: { recipientAccountId: BOB, amount: '1000.00' },
    });
    expect(res.statusCode).toBe(422);
    expect(problemOf(res)).toMatchObject({ code: 'INSUFFICIENT_FUNDS', detail: 'balance too low' });
    const missing = await gw.inject({ method: 'GET', url: `/accounts/${BOB}/balance` });
    expect(missing.statusCode).toBe(404);
    const balance = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    expect(balance.json()).toMatchObject({ balance: '123.45', currency: 'USD' });
  });

  it('analytics unreachable: operations 503 with Retry-After while balances and transfers keep working', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    const ops = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/operations` });
    expect(ops.statusCode).toBe(503);
    expect(ops.headers['retry-after']).toBe('1');
    expect((await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` })).statusCode).toBe(200);
    expect((await transfer(gw)).statusCode).toBe(201);
  });

  it('analytics hangs: operations 504 at the deadline, never a hang', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address, analytics: await startHangingServer('analytics-service') });
    const started = Date.now();
    const res = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/operations` });
    expect(Date.now() - started).toBeLessThan(NEVER_HANGS_MS);
    // A probe that only times out keeps the replica (slow is not down): the read's deadline decides.
    expect(res.statusCode).toBe(504);
  });

  it('card adapter unreachable: top-up 503, charged left out (unknown)', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    const res = await gw.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/topup`,
      headers: { 'content-type': 'application/json', 'idempotency-key': 't-1' },
      payload: { amount: '5.00', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } },
    });
    expect(res.statusCode).toBe(503);
    expect(problemOf(res)).not.toHaveProperty('charged');
  });

  it('/readyz checks the bank with grpc.health.v1: 200 when serving, 503 when not serving or unreachable', async () => {
    const bank = await startFakeBank();
    const { gw } = await gatewayWith({ bank: bank.address });
    // The first health probe (a new mutual-TLS handshake) may still be under way.
    const ready = await waitFor(async () => {
      const res = await gw.inject({ method: 'GET', url: '/readyz' });
      return res.statusCode === 200 ? res : undefined;
    }, { timeoutMs: 20_000, what: '/readyz 200' });
    expect(ready.json()).toEqual({ status: 'ok', checks: { bank: 'ok', cardAdapter: 'UNAVAILABLE', analytics: 'UNAVAILABLE', webhooks: 'UNAVAILABLE' } });

    bank.server.health.setStatus('', 'NOT_SERVING');
    const notServing = await gw.inject({ method: 'GET', url: '/readyz' });
    expect(notServing.statusCode).toBe(503);
    // NOT_SERVING from the replica itself, or UNAVAILABLE once the health-aware channel dropped it.
    expect(['NOT_SERVING', 'UNAVAILABLE']).toContain(notServing.json().checks.bank);

    const { gw: orphan } = await gatewayWith({ bank: `127.0.0.1:${await freePort()}` });
    const unreachable = await orphan.inject({ method: 'GET', url: '/readyz' });
    expect(unreachable.statusCode).toBe(503);
    expect(unreachable.json().checks.bank).toBe('UNAVAILABLE');
  });

  it('/readyz answers within its deadline when the bank hangs', async () => {
    const { gw } = await gatewayWith({ bank: await startHangingServer('bank-service') });
    const started = Date.now();
    const res = await gw.inject({ method: 'GET', url: '/readyz' });
    expect(Date.now() - started).toBeLessThan(NEVER_HANGS_MS);
    expect(res.statusCode).toBe(503);
    // The probe's channel skips replicas that fail grpc.health.v1 (none left: UNAVAILABLE at once).
    expect(['DEADLINE_EXCEEDED', 'UNAVAILABLE']).toContain(res.json().checks.bank);
  });

  it('replicas (an address list): calls spread over every replica; a NOT_SERVING one stops getting calls; a stopped one costs no request', async () => {
    const one = await startFakeBank();
    const two = await startFakeBank();
    const { gw } = await gatewayWith({ bank: `${one.address},${two.address}` });
    const balance = () => gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` });
    await waitFor(
      async () => {
        expect((await balance()).statusCode).toBe(200);
        return one.seen.length > 0 && two.seen.length > 0;
      },
      { timeoutMs: 20_000, what: 'calls on both replicas' },
    );

    // NOT_SERVING (e.g. a bank shutting down): out of rotation within a probe interval + timeout.
    one.server.health.setStatus('', 'NOT_SERVING');
    await waitFor(
      async () => {
        const before = one.seen.length;
        for (let i = 0; i < 6; i += 1) expect((await balance()).statusCode).toBe(200);
        return one.seen.length === before;
      },
      { timeoutMs: 20_000, what: 'no call on the NOT_SERVING replica' },
    );
    one.server.health.setStatus('', 'SERVING');
    await waitFor(
      async () => {
        const before = one.seen.length;
        for (let i = 0; i < 4; i += 1) expect((await balance()).statusCode).toBe(200);
        return one.seen.length > before;
      },
      { timeoutMs: 20_000, what: 'the replica back in rotation' },
    );

    // Stopped for good: every request is still answered by the other replica.
    await two.server.shutdown(1000);
    for (let i = 0; i < 10; i += 1) expect((await transfer(gw)).statusCode).toBe(201);
  });

  it('a breaker opened by an unavailable bank refuses at once, and the bank sees nothing until the half-open probe', async () => {
    const bank = await startFakeBank();
    let failing = true;
    const { gw } = await gatewayWith(
      { bank: bank.address },
      { breakers: { GATEWAY_BREAKER_VOLUME_MIN: 2, GATEWAY_BREAKER_FAILURE_PERCENT_MAX: 50, GATEWAY_BREAKER_RESET_TIMEOUT_MS: 1000 } },
    );
    // The bank answers UNAVAILABLE (e.g. its database is down): an infrastructure failure.
    bank.failWith = () => (failing ? bankError(GrpcStatus.UNAVAILABLE, 'STORAGE_UNAVAILABLE', 'database down') : undefined);
    await waitFor(
      async () => {
        const res = await transfer(gw);
        return res.statusCode === 503 && problemOf(res).type === 'urn:problem:wallet:dependency-unavailable';
      },
      { timeoutMs: 20_000, what: 'the bank breaker to open' },
    );
    const seenWhileOpen = bank.seen.length;
    const refused = await transfer(gw);
    expect(refused.statusCode).toBe(503);
    expect(problemOf(refused)).toMatchObject({ type: 'urn:problem:wallet:dependency-unavailable', code: 'DEPENDENCY_UNAVAILABLE' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(bank.seen.length).toBe(seenWhileOpen);

    // The bank recovers: after the reset timeout the probe goes through and closes the breaker.
    failing = false;
    await waitFor(async () => (await transfer(gw)).statusCode === 201, { timeoutMs: 20_000, what: 'the half-open probe to succeed' });
    expect((await transfer(gw)).statusCode).toBe(201);
  });
});
