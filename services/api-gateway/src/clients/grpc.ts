import { makeClientConstructor, status as GrpcStatus, type Client, type ServiceDefinition } from '@grpc/grpc-js';
import { AnalyticsServiceClient } from '@wallet/contracts/analytics';
import { BankServiceClient } from '@wallet/contracts/bank';
import { BankCardAdapterServiceClient } from '@wallet/contracts/card-adapter';
import { callUnary, createGrpcClient, isServiceError, type GrpcTransport } from '@wallet/platform';
import type { GrpcSecurity } from '@wallet/platform/tls';
import { service as healthServiceDefinition } from 'grpc-health-check';
import type { Registry } from 'prom-client';
import type { AnalyticsApi, BankApi, CallContext, CardAdapterApi, GatewayClients, HealthState } from './types.js';

// Thin gRPC wrappers: every call goes through callUnary with a deadline and
// forwards the request id as `x-request-id` metadata and the caller's verified
// bearer token as `authorization` (each backend verifies it again). No retries here: the
// REST client retries with its Idempotency-Key, which is what makes a retry
// safe; a hidden retry in the gateway would only stretch the deadline.

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
export function createHealthProbe(address: string, transport: GrpcTransport, serviceName = '') {
  const client = createGrpcClient(HealthClient as unknown as new (...args: ConstructorParameters<typeof BankServiceClient>) => HealthCheckClient, address, transport);
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

export interface GrpcClientOptions {
  /** Mutual TLS to the server (GrpcSecurity.client(<server's service name>)). */
  transport: GrpcTransport;
  /** Deadline of each call. */
  deadlineMs: number;
  /** Counts calls in grpc_client_handling_seconds (platform); absent: traced, not counted. */
  registry?: Registry;
}

function clientOf<C extends Client>(Ctor: Parameters<typeof createGrpcClient<C>>[0], address: string, options: GrpcClientOptions): C {
  return createGrpcClient(Ctor, address, options.transport, options.registry ? { registry: options.registry } : {});
}

export function createBankClient(address: string, options: GrpcClientOptions): BankApi & { close(): void } {
  const client = clientOf(BankServiceClient, address, options);
  const call = caller(client, options.deadlineMs);
  const health = createHealthProbe(address, options.transport);
  return {
    transferMoney: (request, context) => call(client.transferMoney, request, context),
    getBalance: (request, context) => call(client.getBalance, request, context),
    createAccount: (request, context) => call(client.createAccount, request, context),
    listAccounts: (request, context) => call(client.listAccounts, request, context),
    checkHealth: health.checkHealth,
    close: () => {
      client.close();
      health.client.close();
    },
  };
}

export function createCardAdapterClient(address: string, options: GrpcClientOptions): CardAdapterApi & { close(): void } {
  const client = clientOf(BankCardAdapterServiceClient, address, options);
  const call = caller(client, options.deadlineMs);
  const health = createHealthProbe(address, options.transport);
  return {
    processCardTopUp: (request, context) => call(client.processCardTopUp, request, context),
    checkHealth: health.checkHealth,
    close: () => {
      client.close();
      health.client.close();
    },
  };
}

export function createAnalyticsClient(address: string, options: GrpcClientOptions): AnalyticsApi & { close(): void } {
  const client = clientOf(AnalyticsServiceClient, address, options);
  const call = caller(client, options.deadlineMs);
  const health = createHealthProbe(address, options.transport);
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

export interface GatewayClientsConfig {
  GATEWAY_BANK_GRPC_ADDRESS: string;
  GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: string;
  GATEWAY_ANALYTICS_GRPC_ADDRESS: string;
  GATEWAY_GRPC_DEADLINE_MS: number;
  GATEWAY_TOPUP_DEADLINE_MS: number;
}

/**
 * The real clients, from configuration. Each one accepts only a server whose
 * certificate names the service it meant to reach (bank-service,
 * bank-card-adapter, analytics-service), whatever address it dials.
 */
export function createGatewayClients(config: GatewayClientsConfig, security: Pick<GrpcSecurity, 'client'>, registry?: Registry): GatewayClients {
  const common = registry ? { registry } : {};
  const bank = createBankClient(config.GATEWAY_BANK_GRPC_ADDRESS, {
    transport: security.client('bank-service'),
    deadlineMs: config.GATEWAY_GRPC_DEADLINE_MS,
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
  return {
    bank,
    cardAdapter,
    analytics,
    close: () => {
      bank.close();
      cardAdapter.close();
      analytics.close();
    },
  };
}
