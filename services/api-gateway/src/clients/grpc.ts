import { makeClientConstructor, Metadata, status as GrpcStatus, type Client, type ClientReadableStream, type ServiceDefinition } from '@grpc/grpc-js';
import { AnalyticsServiceClient } from '@wallet/contracts/analytics';
import { BankServiceClient } from '@wallet/contracts/bank';
import { BankCardAdapterServiceClient } from '@wallet/contracts/card-adapter';
import { WebhookServiceClient } from '@wallet/contracts/webhook';
import { callUnary, createGrpcClient, grpcServiceConfig, isServiceError, type GrpcServiceConfig, type GrpcTransport, type HealthProbeSettings } from '@wallet/platform';
import type { GrpcSecurity } from '@wallet/platform/tls';
import { service as healthServiceDefinition } from 'grpc-health-check';
import type { Registry } from 'prom-client';
import type { AnalyticsApi, BankApi, CallContext, CardAdapterApi, GatewayClients, HealthState, ServerStream, WebhookApi } from './types.js';

// Thin gRPC wrappers: every call goes through callUnary with a deadline and
// forwards the request id as `x-request-id` metadata and the caller's verified
// bearer token as `authorization` (each backend verifies it again).
//
// Each address setting names one server, a list of replicas or a dns:/// name
// (parseGrpcTarget, C1); the channel balances round_robin over the replicas
// whose grpc.health.v1 answers SERVING, and retries per the tables below: only
// UNAVAILABLE (the replica went away or refused; the next attempt goes to the
// next replica), at most 3 attempts with bounded backoff, all inside the call's
// one deadline. DEADLINE_EXCEEDED is never retried here: the deadline is the
// whole budget, and the REST client retries with its Idempotency-Key.

const GRPC_CODE_NAMES = new Map<number, string>(
  Object.entries(GrpcStatus)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => [value as number, name]),
);

type UnaryMethod<Req, Res> = Parameters<typeof callUnary<Req, Res>>[1];

// Spans and grpc_client_handling_seconds come from the platform's client interceptor
// (createGrpcClient with the registry): a CLIENT span per call, traceparent in its metadata.
function caller(client: Client, defaultDeadlineMs: number) {
  return <Req, Res>(method: UnaryMethod<Req, Res>, request: Req, context: CallContext, deadlineMs = defaultDeadlineMs): Promise<Res> =>
    callUnary(client, method, request, {
      timeoutMs: deadlineMs,
      headers: { 'x-request-id': context.requestId, authorization: context.authorization },
    });
}

// grpc.health.v1 from the grpc-health-check package (the same definition the servers use).
const HealthClient = makeClientConstructor(healthServiceDefinition as unknown as ServiceDefinition, 'grpc.health.v1.Health');

interface HealthCheckClient extends Client {
  check: UnaryMethod<{ service: string }, { status: string }>;
}

/**
 * A grpc.health.v1 probe of the server on address; resolves "ok" or the
 * reason, never rejects. It asks about the server as a whole (service ""),
 * which startGrpcServer keeps and flips to NOT_SERVING on shutdown, so the
 * probe does not depend on how each service names its registration.
 */
export function createHealthProbe(target: string, transport: GrpcTransport, serviceName = '', healthProbe?: HealthProbeSettings) {
  // Balanced over the SERVING replicas like the calls: ready while any replica serves.
  const client = createGrpcClient(HealthClient as unknown as new (...args: ConstructorParameters<typeof BankServiceClient>) => HealthCheckClient, target, transport, {
    serviceConfig: HEALTH_RETRIES,
    ...(healthProbe ? { healthCheck: healthProbe } : {}),
  });
  return {
    client,
    async checkHealth(timeoutMs: number): Promise<HealthState> {
      try {
        const response = await callUnary(client, client.check, { service: serviceName }, { timeoutMs });
        return response.status === 'SERVING' ? 'ok' : response.status;
      } catch (error) {
        return isServiceError(error) ? (GRPC_CODE_NAMES.get(error.code) ?? 'UNKNOWN') : 'UNKNOWN';
      }
    },
  };
}

const NOT_CALLED = 'not called by the gateway (the card adapter\'s RPC; the bank refuses the gateway\'s certificate for it)';

/** Why each bank RPC may or may not be sent twice by the channel. */
export const BANK_RETRIES = grpcServiceConfig({
  service: 'wallet.bank.v1.BankService',
  retryable: {
    TransferMoney:
      'idempotent on (sender, Idempotency-Key) and a replay answers the first answer: a second attempt on another replica either replays the transfer that executed or executes it once',
    CreateAccount: 'idempotent on (owner, Idempotency-Key) and a replay answers the first answer: a retry never opens a second account',
    GetBalance: 'a read',
    ListAccounts: 'a read',
    // Issue #15.
    CreateHold: 'idempotent on (sender, Idempotency-Key) and a replay answers the first answer: a retry never holds twice',
    CaptureHold: 'the hold is captured at most once; the same capture again is a replay of its final state',
    VoidHold: 'the hold is voided at most once; the same void again is a replay of its final state',
    GetHold: 'a read',
    ReverseTransfer: 'idempotent on (transfer, Idempotency-Key) and a replay answers the first answer: a retry never reverses twice',
    ListReversals: 'a read',
    GetAccountLimits: 'a read',
    SetAccountLimits: 'setting the same limits twice leaves the same limits',
    GetBalanceAt: 'a read',
    GetStatement: 'a read (retried only before the first message arrives)',
    VerifyLedger: 'a read',
  },
  notRetried: {
    DepositMoney: NOT_CALLED,
    GetDeposit: NOT_CALLED,
    RefundDeposit: NOT_CALLED,
    GetRefund: NOT_CALLED,
    CancelRefund: NOT_CALLED,
    GetLedgerTotals: 'not called by the gateway (analytics-service only)',
    GetAccountOwners: 'not called by the gateway (webhook-service only)',
  },
});

/** Why each card-adapter RPC may or may not be sent twice by the channel. */
export const CARD_ADAPTER_RETRIES = grpcServiceConfig({
  service: 'wallet.cardadapter.v1.BankCardAdapterService',
  retryable: {
    ProcessCardTopUp:
      'journaled per (account, Idempotency-Key) before the card is charged, and a replay answers the first answer (or IN_FLIGHT while it runs): the card is charged at most once whichever replica a retry reaches',
    GetTopUp: 'a read (not called by the gateway today)',
    GetTopUpRefund: 'a read',
  },
  notRetried: {
    // Safe default until its idempotency is written down here: one attempt, the REST client retries with its key.
    RefundTopUp: 'sent once by the channel; a lost answer is retried by the REST client with the same Idempotency-Key',
  },
});

/** Why each analytics RPC may be sent twice by the channel. */
export const ANALYTICS_RETRIES = grpcServiceConfig({
  service: 'wallet.analytics.v1.AnalyticsService',
  retryable: { GetOperations: 'a read', GetAccountSummary: 'a read' },
  notRetried: {},
});

/** Why each webhook-service RPC may or may not be sent twice by the channel. */
export const WEBHOOK_RETRIES = grpcServiceConfig({
  service: 'wallet.webhook.v1.WebhookService',
  retryable: {
    CreateEndpoint: 'idempotent on (owner, Idempotency-Key): a retry replays the endpoint and its secret and never registers a second one',
    RotateSecret: 'idempotent on (endpoint, Idempotency-Key): a retry replays the same version and secret and never rotates twice',
    ListEndpoints: 'a read',
    GetEndpoint: 'a read',
    DeleteEndpoint: 'disabling an endpoint twice leaves it disabled',
    ListDeliveries: 'a read',
  },
  notRetried: {
    Redeliver: 'each call queues one more attempt: a retry after a lost answer could send the event twice more',
  },
});

/** The readiness probe's own channel: Check is a read; List and Watch are never used. */
export const HEALTH_RETRIES = grpcServiceConfig({
  service: 'grpc.health.v1.Health',
  retryable: { Check: 'a read' },
  notRetried: { List: 'not used', Watch: 'not used (a server stream)' },
});

export interface GrpcClientOptions {
  /** Mutual TLS to the server (GrpcSecurity.client(<server's service name>)). */
  transport: GrpcTransport;
  /** Deadline of each call. */
  deadlineMs: number;
  /** Counts calls in grpc_client_handling_seconds (platform); absent: traced, not counted. */
  registry?: Registry;
  /** How the replicas' grpc.health.v1 is probed; absent: the platform's defaults. */
  healthProbe?: HealthProbeSettings;
}

function clientOf<C extends Client>(Ctor: Parameters<typeof createGrpcClient<C>>[0], target: string, serviceConfig: GrpcServiceConfig, options: GrpcClientOptions): C {
  return createGrpcClient(Ctor, target, options.transport, {
    serviceConfig,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.healthProbe ? { healthCheck: options.healthProbe } : {}),
  });
}

/** target: what parseGrpcTarget made of the address setting (one server, a list, dns:///). */
function metadataOf(context: CallContext): Metadata {
  const metadata = new Metadata();
  metadata.set('x-request-id', context.requestId);
  if (context.authorization !== undefined) metadata.set('authorization', context.authorization);
  return metadata;
}

/** A grpc-js server stream as an async iterable (its Readable iterates in order and throws the call's error). */
function serverStream<T>(call: ClientReadableStream<T>): ServerStream<T> {
  return { [Symbol.asyncIterator]: () => call[Symbol.asyncIterator]() as AsyncIterator<T>, cancel: () => call.cancel() };
}

export function createBankClient(target: string, options: GrpcClientOptions & { streamDeadlineMs?: number }): BankApi & { close(): void } {
  const client = clientOf(BankServiceClient, target, BANK_RETRIES, options);
  const call = caller(client, options.deadlineMs);
  const health = createHealthProbe(target, options.transport, '', options.healthProbe);
  return {
    transferMoney: (request, context) => call(client.transferMoney, request, context),
    getBalance: (request, context) => call(client.getBalance, request, context),
    createAccount: (request, context) => call(client.createAccount, request, context),
    listAccounts: (request, context) => call(client.listAccounts, request, context),
    reverseTransfer: (request, context) => call(client.reverseTransfer, request, context),
    listReversals: (request, context) => call(client.listReversals, request, context),
    verifyLedger: (request, context) => call(client.verifyLedger, request, context),
    createHold: (request, context) => call(client.createHold, request, context),
    captureHold: (request, context) => call(client.captureHold, request, context),
    voidHold: (request, context) => call(client.voidHold, request, context),
    getHold: (request, context) => call(client.getHold, request, context),
    getAccountLimits: (request, context) => call(client.getAccountLimits, request, context),
    setAccountLimits: (request, context) => call(client.setAccountLimits, request, context),
    getBalanceAt: (request, context) => call(client.getBalanceAt, request, context),
    getStatement: (request, context) => serverStream(client.getStatement(request, metadataOf(context), { deadline: Date.now() + (options.streamDeadlineMs ?? options.deadlineMs) })),
    checkHealth: health.checkHealth,
    close: () => {
      client.close();
      health.client.close();
    },
  };
}

/** target: what parseGrpcTarget made of the address setting (one server, a list, dns:///). */
export function createCardAdapterClient(target: string, options: GrpcClientOptions): CardAdapterApi & { close(): void } {
  const client = clientOf(BankCardAdapterServiceClient, target, CARD_ADAPTER_RETRIES, options);
  const call = caller(client, options.deadlineMs);
  const health = createHealthProbe(target, options.transport, '', options.healthProbe);
  return {
    processCardTopUp: (request, context) => call(client.processCardTopUp, request, context),
    refundTopUp: (request, context) => call(client.refundTopUp, request, context),
    getTopUpRefund: (request, context) => call(client.getTopUpRefund, request, context),
    checkHealth: health.checkHealth,
    close: () => {
      client.close();
      health.client.close();
    },
  };
}

/** target: what parseGrpcTarget made of the address setting (one server, a list, dns:///). */
export function createAnalyticsClient(target: string, options: GrpcClientOptions): AnalyticsApi & { close(): void } {
  const client = clientOf(AnalyticsServiceClient, target, ANALYTICS_RETRIES, options);
  const call = caller(client, options.deadlineMs);
  const health = createHealthProbe(target, options.transport, '', options.healthProbe);
  return {
    getOperations: (request, context) => call(client.getOperations, request, context),
    getAccountSummary: (request, context) => call(client.getAccountSummary, request, context),
    checkHealth: health.checkHealth,
    close: () => {
      client.close();
      health.client.close();
    },
  };
}

/** target: what parseGrpcTarget made of the address setting (one server, a list, dns:///). */
export function createWebhookClient(target: string, options: GrpcClientOptions): WebhookApi & { close(): void } {
  const client = clientOf(WebhookServiceClient, target, WEBHOOK_RETRIES, options);
  const call = caller(client, options.deadlineMs);
  const health = createHealthProbe(target, options.transport, '', options.healthProbe);
  return {
    createEndpoint: (request, context) => call(client.createEndpoint, request, context),
    listEndpoints: (request, context) => call(client.listEndpoints, request, context),
    getEndpoint: (request, context) => call(client.getEndpoint, request, context),
    deleteEndpoint: (request, context) => call(client.deleteEndpoint, request, context),
    listDeliveries: (request, context) => call(client.listDeliveries, request, context),
    redeliver: (request, context) => call(client.redeliver, request, context),
    rotateSecret: (request, context) => call(client.rotateSecret, request, context),
    checkHealth: health.checkHealth,
    close: () => {
      client.close();
      health.client.close();
    },
  };
}

export interface GatewayClientsConfig {
  GATEWAY_BANK_GRPC_ADDRESS: string;
  GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: string;
  GATEWAY_ANALYTICS_GRPC_ADDRESS: string;
  GATEWAY_WEBHOOK_GRPC_ADDRESS: string;
  GATEWAY_GRPC_DEADLINE_MS: number;
  GATEWAY_TOPUP_DEADLINE_MS: number;
  /** Deadline of a whole statement stream; absent: GATEWAY_GRPC_DEADLINE_MS. */
  GATEWAY_STATEMENT_DEADLINE_MS?: number;
  /** Absent: the platform's probe defaults. */
  GATEWAY_GRPC_HEALTH_PROBE_INTERVAL_MS?: number;
  GATEWAY_GRPC_HEALTH_PROBE_TIMEOUT_MS?: number;
}

function healthProbeOf(config: GatewayClientsConfig): { healthProbe?: HealthProbeSettings } {
  const { GATEWAY_GRPC_HEALTH_PROBE_INTERVAL_MS: probeIntervalMs, GATEWAY_GRPC_HEALTH_PROBE_TIMEOUT_MS: probeTimeoutMs } = config;
  return probeIntervalMs !== undefined && probeTimeoutMs !== undefined ? { healthProbe: { probeIntervalMs, probeTimeoutMs } } : {};
}

/**
 * The real clients, from configuration. Each one accepts only a server whose
 * certificate names the service it meant to reach (bank-service,
 * bank-card-adapter, analytics-service, webhook-service), whatever address it dials.
 */
export function createGatewayClients(config: GatewayClientsConfig, security: Pick<GrpcSecurity, 'client'>, registry?: Registry): GatewayClients {
  const common = { ...(registry ? { registry } : {}), ...healthProbeOf(config) };
  const bank = createBankClient(config.GATEWAY_BANK_GRPC_ADDRESS, {
    transport: security.client('bank-service'),
    deadlineMs: config.GATEWAY_GRPC_DEADLINE_MS,
    ...(config.GATEWAY_STATEMENT_DEADLINE_MS === undefined ? {} : { streamDeadlineMs: config.GATEWAY_STATEMENT_DEADLINE_MS }),
    ...common,
  });
  const cardAdapter = createCardAdapterClient(config.GATEWAY_CARD_ADAPTER_GRPC_ADDRESS, {
    transport: security.client('bank-card-adapter'),
    deadlineMs: config.GATEWAY_TOPUP_DEADLINE_MS,
    ...common,
  });
  const analytics = createAnalyticsClient(config.GATEWAY_ANALYTICS_GRPC_ADDRESS, {
    transport: security.client('analytics-service'),
    deadlineMs: config.GATEWAY_GRPC_DEADLINE_MS,
    ...common,
  });
  const webhooks = createWebhookClient(config.GATEWAY_WEBHOOK_GRPC_ADDRESS, {
    transport: security.client('webhook-service'),
    deadlineMs: config.GATEWAY_GRPC_DEADLINE_MS,
    ...common,
  });
  return {
    bank,
    cardAdapter,
    analytics,
    webhooks,
    close: () => {
      bank.close();
      cardAdapter.close();
      analytics.close();
      webhooks.close();
    },
  };
}
