// Zero trust inside (issue 11), on the running system as `npm start` runs it
// (scripts/lib/system.mjs, the run's PKI): no internal gRPC port answers a
// plaintext client or a client without a certificate of the CA, and the
// bank's DepositMoney (money without a card charge) answers only the card
// adapter's certificate, not the gateway's, even with a valid user token.
import { randomUUID } from 'node:crypto';
import { Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { AnalyticsServiceClient, GetOperationsRequest } from '@wallet/contracts/analytics';
import { BankServiceClient, DepositMoneyRequest, GetBalanceRequest } from '@wallet/contracts/bank';
import { BankCardAdapterServiceClient, GetTopUpRequest } from '@wallet/contracts/card-adapter';
import { createGrpcClient, parseAmountMinor, parseGrpcError, type GrpcTransport } from '@wallet/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rogueClientTransport, testClientTransport, type RogueClientKind, type ServiceName } from '../support/pki.js';
import { ACCOUNT_A, ALICE, http, startSystem, type RunningSystem } from './harness.js';

const CALL_TIMEOUT_MS = 5_000;

type UnaryCall = (request: unknown, metadata: unknown, options: { deadline: number }, callback: (error: ServiceError | null) => void) => unknown;

/** One unary call on a fresh channel; resolves with its error (null when it succeeded). */
async function callOnce(Ctor: new (...args: never[]) => Client, address: string, transport: GrpcTransport, method: string, request: unknown, headers: Record<string, string> = {}): Promise<ServiceError | null> {
  const client = createGrpcClient(Ctor as never, address, transport) as Client & Record<string, UnaryCall>;
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  try {
    return await new Promise((resolve) => {
      client[method]!.call(client, request, metadata, { deadline: Date.now() + CALL_TIMEOUT_MS }, (error) => resolve(error));
    });
  } finally {
    client.close();
  }
}

interface Server {
  name: ServiceName;
  address: (system: RunningSystem) => string;
  /** A harmless read the server's caller table allows api-gateway to make. */
  probe: (transport: GrpcTransport, address: string) => Promise<ServiceError | null>;
}

const SERVERS: Server[] = [
  {
    name: 'bank-service',
    address: (s) => `127.0.0.1:${s.ports.bankGrpc}`,
    probe: (transport, address) => callOnce(BankServiceClient, address, transport, 'getBalance', GetBalanceRequest.fromPartial({ accountId: ACCOUNT_A })),
  },
  {
    name: 'bank-card-adapter',
    address: (s) => `127.0.0.1:${s.ports.cardAdapterGrpc}`,
    probe: (transport, address) => callOnce(BankCardAdapterServiceClient, address, transport, 'getTopUp', GetTopUpRequest.fromPartial({ topUpId: randomUUID() })),
  },
  {
    name: 'analytics-service',
    address: (s) => `127.0.0.1:${s.ports.analyticsGrpc}`,
    probe: (transport, address) =>
      callOnce(AnalyticsServiceClient, address, transport, 'getOperations', GetOperationsRequest.fromPartial({ accountId: ACCOUNT_A, pageSize: 1 })),
  },
];

describe('mutual TLS on the running system', () => {
  let system: RunningSystem;
  beforeAll(async () => {
    system = await startSystem({ analytics: true, cardAdapter: true });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it.each(SERVERS.map((server) => [server.name, server] as const))(
    '%s: refuses plaintext, no certificate, another CA and an expired certificate at the handshake; serves a certificate of the CA',
    async (_name, server) => {
      const address = server.address(system);
      for (const kind of ['plaintext', 'no-certificate', 'other-ca', 'expired'] satisfies RogueClientKind[]) {
        const error = await server.probe(await rogueClientTransport(kind, server.name), address);
        expect(error?.code, `${server.name} with a ${kind} client`).toBe(status.UNAVAILABLE);
      }
      // The control: the same call with the gateway's certificate reaches the service (no token:
      // the service itself answers, UNAUTHENTICATED, instead of the handshake failing).
      const served = await server.probe(await testClientTransport(server.name, 'api-gateway'), address);
      expect(served?.code, `${server.name} with the gateway's certificate: ${served?.message}`).not.toBe(status.UNAVAILABLE);
    },
  );

  it("refuses DepositMoney with the gateway's certificate (PERMISSION_DENIED, CALLER_NOT_ALLOWED), even with alice's token; no money appears", async () => {
    const balance = async () => {
      const res = await http(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/balance`, { headers: await system.as(ALICE) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return parseAmountMinor(res.body.balance as string);
    };
    const before = await balance();
    const request = DepositMoneyRequest.fromPartial({
      accountId: ACCOUNT_A,
      amount: { amountMinor: 1_000_000n, currencyCode: 'USD' },
      depositReference: `mtls-e2e-${randomUUID()}`,
      topUpId: randomUUID(),
      card: { cardLast4: '4242', cardBrand: 'visa' },
      initiatedBy: ALICE.userId,
    });
    const error = await callOnce(BankServiceClient, `127.0.0.1:${system.ports.bankGrpc}`, await testClientTransport('bank-service', 'api-gateway'), 'depositMoney', request, await system.as(ALICE));
    const parsed = parseGrpcError(error);
    expect([parsed.code, parsed.reason, parsed.metadata.caller]).toEqual([status.PERMISSION_DENIED, 'CALLER_NOT_ALLOWED', 'api-gateway']);
    expect(await balance()).toBe(before);
  });
});
