import { status as GrpcStatus } from '@grpc/grpc-js';
import { OperationType, type Operation } from '@wallet/contracts/analytics';
import { TransferStatus, type CreateAccountRequest, type TransferMoneyRequest } from '@wallet/contracts/bank';
import { TopUpRefundStatus, TopUpStatus, type ProcessCardTopUpRequest, type RefundTopUpRequest } from '@wallet/contracts/card-adapter';
import { contractPaths } from '@wallet/contracts';
import { createLogger, loadConfig, richError } from '@wallet/platform';
import { createOpenApiResponseValidator } from '@wallet/testkit';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Writable } from 'node:stream';
import { expect, vi } from 'vitest';
import { startTestIssuer, type TestIssuer } from '../../../../test/support/test-issuer.js';
import type { IdentityApi } from '../../src/clients/identity.js';
import type { AnalyticsApi, BankApi, CardAdapterApi, GatewayClients, WebhookApi } from '../../src/clients/types.js';
import { configSchema, type GatewayConfig } from '../../src/config.js';
import type { DrainState } from '../../src/drain.js';
import { GATEWAY_REDACT } from '../../src/logging.js';
import { buildServer, type PublicTlsIdentity } from '../../src/server.js';

export const ALICE = '123e4567-e89b-12d3-a456-426614174000';
export const BOB = '987e6543-e21b-34d3-c456-426614174999';
export const UNKNOWN_ACCOUNT = '00000000-0000-4000-8000-00000000dead';
export const CREATED_AT = new Date('2025-01-02T03:04:05.678Z');
/** Users of the identity-service's dev seed (the owners of ALICE and BOB in the bank's seed). */
export const ALICE_USER = '11111111-1111-4111-8111-111111111111';
export const BOB_USER = '22222222-2222-4222-8222-222222222222';
export const SUPPORT_USER = '33333333-3333-4333-8333-333333333333';
export const ADMIN_USER = '44444444-4444-4444-8444-444444444444';

/** Checks REST responses against openapi.yaml (status declared, content type, headers, body schema). */
export const contract = createOpenApiResponseValidator(contractPaths.openapi);

export function testConfig(overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  // The event-loop bound off (its maximum): on a busy test machine a lazy schema compilation in the
  // contract check blocks the loop for over a second, which is not what these tests are about;
  // test/unit/load-shedding.test.ts sets its own.
  return { ...loadConfig(configSchema, {}), GATEWAY_EVENT_LOOP_DELAY_MS_MAX: 60_000, ...overrides };
}

/** A gRPC error as the downstream services send it: status + google.rpc.ErrorInfo. */
export function grpcError(code: GrpcStatus, reason: string, message = reason.toLowerCase(), metadata: Record<string, string> = {}) {
  return richError({ code, reason, message, domain: 'test.wallet', metadata });
}

/** A transport-level failure without ErrorInfo (what grpc-js raises for a dead peer or a deadline). */
export function transportError(code: GrpcStatus, message: string) {
  return Object.assign(new Error(message), { code, details: message, metadata: undefined });
}

export function transferResponse(request: TransferMoneyRequest, replayed = false) {
  return {
    transfer: {
      id: 'b1a7c0de-0000-4000-8000-000000000001',
      senderAccountId: request.senderAccountId,
      recipientAccountId: request.recipientAccountId,
      amount: request.amount,
      status: TransferStatus.TRANSFER_STATUS_COMPLETED,
      description: request.description,
      createdAt: CREATED_AT,
      initiatedBy: ALICE_USER,
    },
    replayed,
  };
}

export function topUpResponse(request: ProcessCardTopUpRequest, replayed = false, status = TopUpStatus.TOP_UP_STATUS_COMPLETED) {
  return {
    topUp: {
      id: '70b0c0de-0000-4000-8000-000000000002',
      accountId: request.accountId,
      amount: request.amount,
      status,
      cardLast4: request.card!.number.slice(-4),
      cardBrand: 'visa',
      createdAt: CREATED_AT,
      charged: status === TopUpStatus.TOP_UP_STATUS_COMPLETED ? 'true' : 'unknown',
      failureReason: '',
      failureMessage: '',
      initiatedBy: ALICE_USER,
    },
    replayed,
  };
}

/** A finished refund to the card of `request.amount` (10.00 when absent), as the card adapter answers it. */
export function refundResponse(request: RefundTopUpRequest, replayed = false, status = TopUpRefundStatus.TOP_UP_REFUND_STATUS_SUCCEEDED) {
  return {
    refund: {
      id: '7ef0c0de-0000-4000-8000-000000000009',
      topUpId: request.topUpId,
      accountId: ALICE,
      amount: request.amount ?? { amountMinor: 1000n, currencyCode: 'USD' },
      status,
      failureReason: status === TopUpRefundStatus.TOP_UP_REFUND_STATUS_FAILED ? 'CARD_REFUND_DECLINED' : '',
      failureMessage: '',
      createdAt: CREATED_AT,
      initiatedBy: ALICE_USER,
      gatewayRefundId: 're_test',
    },
    replayed,
  };
}

export const NEW_ACCOUNT = 'acc0c0de-0000-4000-8000-000000000004';

/** Issue #15 balance parts of an account without holds: available = posted, nothing pending. */
export function balanceParts(postedMinor: bigint, currency = 'USD') {
  return {
    available: { amountMinor: postedMinor, currencyCode: currency },
    pending: { amountMinor: 0n, currencyCode: currency },
    posted: { amountMinor: postedMinor, currencyCode: currency },
  };
}

export function createAccountResponse(request: CreateAccountRequest, replayed = false, ownerId = ALICE_USER) {
  return {
    account: {
      accountId: NEW_ACCOUNT,
      ownerId: request.ownerId || ownerId,
      currency: request.currency,
      balance: { amountMinor: 0n, currencyCode: request.currency },
      createdAt: CREATED_AT,
      ...balanceParts(0n, request.currency),
    },
    replayed,
  };
}

export function operation(overrides: Partial<Operation> = {}): Operation {
  return {
    id: 'e0e0c0de-0000-4000-8000-000000000003',
    accountId: ALICE,
    type: OperationType.OPERATION_TYPE_TRANSFER_OUT,
    amount: { amountMinor: 1050n, currencyCode: 'USD' },
    counterpartyAccountId: BOB,
    transferId: 'b1a7c0de-0000-4000-8000-000000000001',
    topUpId: '',
    description: 'Dinner',
    cardLast4: '',
    createdAt: CREATED_AT,
    initiatedBy: ALICE_USER,
    holdId: '',
    holdDirection: '',
    reversalId: '',
    originalTransferId: '',
    forced: false,
    refundId: '',
    ...overrides,
  };
}

/** Fake downstream clients: sensible answers for the seed accounts, NOT_FOUND for others. */
export function fakeClients() {
  const known = new Set([ALICE, BOB]);
  const bank = {
    transferMoney: vi.fn<BankApi['transferMoney']>(async (request) => transferResponse(request)),
    getBalance: vi.fn<BankApi['getBalance']>(async ({ accountId }) => {
      if (!known.has(accountId)) throw grpcError(GrpcStatus.NOT_FOUND, 'ACCOUNT_NOT_FOUND', `account ${accountId} not found`);
      return { accountId, balance: { amountMinor: 100_000n, currencyCode: 'USD' }, updatedAt: CREATED_AT, ...balanceParts(100_000n), overdraftLimit: { amountMinor: 0n, currencyCode: 'USD' } };
    }),
    createAccount: vi.fn<BankApi['createAccount']>(async (request) => createAccountResponse(request)),
    listAccounts: vi.fn<BankApi['listAccounts']>(async () => ({
      accounts: [{ accountId: ALICE, ownerId: ALICE_USER, currency: 'USD', balance: { amountMinor: 100_000n, currencyCode: 'USD' }, createdAt: CREATED_AT, ...balanceParts(100_000n) }],
    })),
    checkHealth: vi.fn<BankApi['checkHealth']>(async () => 'ok'),
    // Issue #15 (F3): UNIMPLEMENTED unless a test gives them a body (reversals/admin-ledger route tests).
    reverseTransfer: vi.fn<BankApi['reverseTransfer']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    listReversals: vi.fn<BankApi['listReversals']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    verifyLedger: vi.fn<BankApi['verifyLedger']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    // Issue #15 (F1): UNIMPLEMENTED unless a test gives them a body (holds route tests).
    createHold: vi.fn<BankApi['createHold']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    captureHold: vi.fn<BankApi['captureHold']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    voidHold: vi.fn<BankApi['voidHold']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    getHold: vi.fn<BankApi['getHold']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    // Issue #15 (F2): UNIMPLEMENTED unless a test gives them a body (limits route tests).
    getAccountLimits: vi.fn<BankApi['getAccountLimits']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    setAccountLimits: vi.fn<BankApi['setAccountLimits']>(async () => {
      throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
    }),
    // Issue #15 (F5): the balance at an instant; a statement stream only when a test gives one (statements route tests).
    getBalanceAt: vi.fn<BankApi['getBalanceAt']>(async ({ accountId, at }) => {
      if (!known.has(accountId)) throw grpcError(GrpcStatus.NOT_FOUND, 'ACCOUNT_NOT_FOUND', `account ${accountId} not found`);
      return { accountId, balance: { amountMinor: 100_000n, currencyCode: 'USD' }, at, lastEntryId: 1n };
    }),
    getStatement: vi.fn<BankApi['getStatement']>(() => ({
      // eslint-disable-next-line require-yield
      async *[Symbol.asyncIterator]() {
        throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
      },
      cancel: () => {},
    })),
  };
  const cardAdapter = {
    processCardTopUp: vi.fn<CardAdapterApi['processCardTopUp']>(async (request) => topUpResponse(request)),
    refundTopUp: vi.fn<CardAdapterApi['refundTopUp']>(async (request) => refundResponse(request)),
    getTopUpRefund: vi.fn<CardAdapterApi['getTopUpRefund']>(async () => ({ refunds: [] })),
    checkHealth: vi.fn<CardAdapterApi['checkHealth']>(async () => 'ok'),
  };
  const analytics = {
    getOperations: vi.fn<AnalyticsApi['getOperations']>(async () => ({ operations: [operation()], nextPageToken: '' })),
    getAccountSummary: vi.fn<AnalyticsApi['getAccountSummary']>(async (request) => ({
      accountId: request.accountId,
      currencyCode: 'USD',
      buckets: [
        {
          periodStart: request.fromTime,
          totalIn: { amountMinor: 2500n, currencyCode: 'USD' },
          totalOut: { amountMinor: 1050n, currencyCode: 'USD' },
          countIn: 1n,
          countOut: 1n,
        },
      ],
      totalIn: { amountMinor: 2500n, currencyCode: 'USD' },
      totalOut: { amountMinor: 1050n, currencyCode: 'USD' },
    })),
    checkHealth: vi.fn<AnalyticsApi['checkHealth']>(async () => 'ok'),
  };
  // The webhook-service's RPCs answer UNIMPLEMENTED unless a test gives them a body (test/unit/webhooks.routes.test.ts).
  const unimplemented = async () => {
    throw grpcError(GrpcStatus.UNIMPLEMENTED, 'UNIMPLEMENTED');
  };
  const webhooks = {
    createEndpoint: vi.fn<WebhookApi['createEndpoint']>(unimplemented),
    listEndpoints: vi.fn<WebhookApi['listEndpoints']>(unimplemented),
    getEndpoint: vi.fn<WebhookApi['getEndpoint']>(unimplemented),
    deleteEndpoint: vi.fn<WebhookApi['deleteEndpoint']>(unimplemented),
    listDeliveries: vi.fn<WebhookApi['listDeliveries']>(unimplemented),
    redeliver: vi.fn<WebhookApi['redeliver']>(unimplemented),
    rotateSecret: vi.fn<WebhookApi['rotateSecret']>(unimplemented),
    checkHealth: vi.fn<WebhookApi['checkHealth']>(async () => 'ok'),
  };
  const close = vi.fn();
  return { bank, cardAdapter, analytics, webhooks, close } satisfies GatewayClients;
}

export type FakeClients = ReturnType<typeof fakeClients>;

/**
 * A logger that keeps every line (at trace level) in memory: the platform's
 * logger as main.ts gets it from runService (trace_id/span_id mixin, the
 * gateway's redaction), with numeric levels.
 */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      callback();
    },
  });
  return { logger: createLogger('api-gateway', 'trace', { redact: GATEWAY_REDACT, formatters: {} }, stream), lines };
}

/** Options of TestGateway.inject: `auth` is the Authorization header to send, or false for none. */
export type TestInjectOptions = InjectOptions & { auth?: string | false };

export interface TestGateway {
  app: FastifyInstance;
  clients: FakeClients;
  logLines: string[];
  /** The loopback token issuer the gateway trusts (AUTH_ISSUER). */
  issuer: TestIssuer;
  /** `Bearer <token>` for sub with roles (default: customer). */
  bearer(sub?: string, roles?: readonly string[]): Promise<string>;
  /**
   * fastify.inject, plus a contract check of the response against openapi.yaml.
   * Requests to /accounts and /me carry a token of customer ALICE_USER unless
   * they set Authorization themselves or pass `auth`.
   */
  inject(options: TestInjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

const SECURED_PATH = /^\/(accounts|me)(\/|\?|$)/;

/** Checks one response against the contract: its operation's declared responses, or the Problem schema off-contract. */
export function expectConformsToContract(method: string, url: string, res: LightMyRequestResponse): void {
  const response = { method, url, statusCode: res.statusCode, headers: res.headers, body: res.body };
  if (contract.findOperation(method, url)) {
    contract.assertValid(response);
  } else if (String(res.headers['content-type'] ?? '').startsWith('application/problem+json')) {
    expect(contract.validateSchema('Problem', JSON.parse(res.body))).toEqual([]);
  }
}

export async function startTestGateway(
  options: {
    config?: Partial<GatewayConfig>;
    clients?: GatewayClients | FakeClients;
    registry?: Registry;
    identity?: IdentityApi;
    /** Serve HTTPS (HTTP/2 + HTTP/1.1) once the test calls app.listen. */
    https?: PublicTlsIdentity;
    /** Shared with the test so it can begin a drain. */
    drain?: DrainState;
  } = {},
): Promise<TestGateway> {
  const clients = (options.clients ?? fakeClients()) as FakeClients;
  const { logger, lines } = memoryLogger();
  const issuer = await startTestIssuer();
  const app = await buildServer({
    config: testConfig({ AUTH_ISSUER: issuer.issuer, AUTH_AUDIENCE: issuer.audience, ...options.config }),
    clients,
    logger,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.identity ? { identity: options.identity } : {}),
    ...(options.https ? { https: options.https } : {}),
    ...(options.drain ? { drain: options.drain } : {}),
  });
  await app.ready();
  const defaultBearer = await issuer.bearer(ALICE_USER);
  return {
    app,
    clients,
    logLines: lines,
    issuer,
    bearer: (sub = ALICE_USER, roles) => issuer.bearer(sub, roles),
    async inject({ auth, ...injectOptions }) {
      const url = String(injectOptions.url ?? injectOptions.path ?? '/');
      const headers = { ...(injectOptions.headers ?? {}) } as Record<string, string>;
      const hasAuthorization = Object.keys(headers).some((name) => name.toLowerCase() === 'authorization');
      if (auth !== undefined) {
        if (auth !== false) headers.authorization = auth;
      } else if (!hasAuthorization && SECURED_PATH.test(url)) {
        headers.authorization = defaultBearer;
      }
      const res = await app.inject({ ...injectOptions, headers });
      const method = String(injectOptions.method ?? 'GET').toUpperCase();
      expectConformsToContract(method, url, res);
      return res;
    },
    close: async () => {
      await app.close();
      await issuer.close();
    },
  };
}

/** Parses a problem+json answer after checking the media type. */
export function problemOf(res: LightMyRequestResponse): Record<string, unknown> {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return JSON.parse(res.body) as Record<string, unknown>;
}
