// The gRPC boundary: requests in, the caller's token verified, use cases
// called, answers and errors out (errors.ts is the one reason -> status table).
import type { sendUnaryData, ServerUnaryCall, ServiceError } from '@grpc/grpc-js';
import { DeliveryStatus, WebhookServiceService, type Delivery, type Endpoint, type WebhookServiceServer } from '@wallet/contracts/webhook';
import type { GrpcServiceRegistration, Logger } from '@wallet/platform';
import type { Principal, TokenVerifier } from '@wallet/platform/auth';
import { authenticate } from '../app/caller.js';
import { createEndpoint, deleteEndpoint, deliveryLog, getEndpoint, listOwnerEndpoints, redeliverOne, rotateEndpointSecret, type EndpointContext } from '../app/endpoints.js';
import type { DeliveryRecord } from '../domain/delivery.js';
import type { EndpointRecord } from '../domain/endpoint.js';
import { WebhookError } from '../domain/errors.js';
import type { WebhookMetrics } from '../metrics.js';
import { toServiceError } from './errors.js';

export const SERVICE_NAME = 'wallet.webhook.v1.WebhookService';

const DELIVERY_STATUS: Record<DeliveryRecord['status'], DeliveryStatus> = {
  pending: DeliveryStatus.DELIVERY_STATUS_PENDING,
  succeeded: DeliveryStatus.DELIVERY_STATUS_SUCCEEDED,
  failed: DeliveryStatus.DELIVERY_STATUS_FAILED,
};

export function endpointToProto(endpoint: EndpointRecord): Endpoint {
  return {
    id: endpoint.id,
    ownerId: endpoint.ownerId,
    url: endpoint.url,
    events: endpoint.events,
    enabled: endpoint.enabled,
    createdAt: endpoint.createdAt,
    secretVersion: endpoint.secretVersion,
    previousSecretExpiresAt: endpoint.previousSecretExpiresAt ?? undefined,
  };
}

export function deliveryToProto(delivery: DeliveryRecord): Delivery {
  return {
    id: delivery.id,
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    accountId: delivery.accountId,
    status: DELIVERY_STATUS[delivery.status],
    attempts: delivery.attempts,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    createdAt: delivery.createdAt,
    nextAttemptAt: delivery.status === 'pending' ? delivery.nextAttemptAt : undefined,
    deliveredAt: delivery.deliveredAt ?? undefined,
    secretVersions: delivery.secretVersions,
  };
}

function authorizationOf(call: ServerUnaryCall<unknown, unknown>): string | undefined {
  const values = call.metadata.get('authorization').map((value) => value.toString());
  return values.length === 1 ? values[0] : values.length === 0 ? undefined : 'malformed: several values';
}

export function createWebhookServicer(deps: {
  ctx: EndpointContext;
  logger: Logger;
  metrics: WebhookMetrics;
  verifier: TokenVerifier;
}): GrpcServiceRegistration & { implementation: WebhookServiceServer } {
  /** Authenticates, runs the use case, counts the outcome, maps errors once. */
  function handle<Req, Res>(rpc: string, call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>, run: (caller: Principal, request: Req) => Promise<Res>): void {
    authenticate(deps.verifier, authorizationOf(call))
      .then((caller) => run(caller, call.request))
      .then(
        (response) => {
          deps.metrics.requests.inc({ rpc, outcome: 'ok' });
          callback(null, response);
        },
        (error: unknown) => {
          const outcome = error instanceof WebhookError ? error.reason : 'error';
          deps.metrics.requests.inc({ rpc, outcome });
          if (!(error instanceof WebhookError)) deps.logger.error({ err: error, rpc }, 'unexpected error');
          else if (error.reason === 'STORAGE_UNAVAILABLE' || error.reason === 'IDENTITY_UNAVAILABLE') deps.logger.warn({ rpc, reason: error.reason }, error.message);
          callback(toServiceError(error) as ServiceError);
        },
      );
  }

  const { ctx } = deps;
  const implementation: WebhookServiceServer = {
    createEndpoint(call, callback) {
      handle('CreateEndpoint', call, callback, async (caller, request) => {
        const result = await createEndpoint(ctx, caller, { url: request.url, events: request.events, idempotencyKey: request.idempotencyKey });
        // The secret goes to the caller and nowhere else (never a log line).
        return { endpoint: endpointToProto(result.endpoint), secret: result.secret, replayed: result.replayed };
      });
    },
    listEndpoints(call, callback) {
      handle('ListEndpoints', call, callback, async (caller, request) => ({ endpoints: (await listOwnerEndpoints(ctx, caller, request.ownerId)).map(endpointToProto) }));
    },
    getEndpoint(call, callback) {
      handle('GetEndpoint', call, callback, async (caller, request) => ({ endpoint: endpointToProto(await getEndpoint(ctx, caller, request.endpointId)) }));
    },
    deleteEndpoint(call, callback) {
      handle('DeleteEndpoint', call, callback, async (caller, request) => ({ endpoint: endpointToProto(await deleteEndpoint(ctx, caller, request.endpointId)) }));
    },
    listDeliveries(call, callback) {
      handle('ListDeliveries', call, callback, async (caller, request) => {
        const page = await deliveryLog(ctx, caller, { endpointId: request.endpointId, pageSize: request.pageSize, pageToken: request.pageToken });
        return { deliveries: page.deliveries.map(deliveryToProto), nextPageToken: page.nextPageToken };
      });
    },
    redeliver(call, callback) {
      handle('Redeliver', call, callback, async (caller, request) => ({
        delivery: deliveryToProto(await redeliverOne(ctx, caller, { endpointId: request.endpointId, deliveryId: request.deliveryId })),
      }));
    },
    rotateSecret(call, callback) {
      handle('RotateSecret', call, callback, async (caller, request) => {
        const input = { endpointId: request.endpointId, idempotencyKey: request.idempotencyKey, gracePeriodSeconds: request.gracePeriodSeconds };
        const result = await rotateEndpointSecret(ctx, caller, input);
        // Like registration: the secret goes to the caller only.
        return { endpoint: endpointToProto(result.endpoint), secretVersion: result.version, secret: result.secret, replayed: result.replayed, createdAt: result.createdAt };
      });
    },
  };
  return { name: SERVICE_NAME, definition: WebhookServiceService, implementation };
}
