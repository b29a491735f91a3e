import {
  DeliveryStatus,
  type CreateEndpointRequest,
  type CreateEndpointResponse,
  type Delivery,
  type Endpoint,
  type ListDeliveriesRequest,
  type ListDeliveriesResponse,
  type RotateSecretRequest,
  type RotateSecretResponse,
} from '@wallet/contracts/webhook';
import { canonicalUuid, toIsoTimestamp, UnexpectedUpstreamResponseError } from './common.js';

// REST <-> gRPC for /webhooks (webhook-service). Pure.

/** Body of POST /webhooks (already validated against CreateWebhookRequest). */
export interface CreateWebhookBody {
  url: string;
  events: string[];
}

/** The Webhook schema of openapi.yaml. */
export interface WebhookResource {
  id: string;
  ownerId: string;
  url: string;
  events: string[];
  enabled: boolean;
  createdAt: string;
  secretVersion: number;
  previousSecretExpiresAt?: string;
}

/** Body of POST /webhooks/{id}/secret/rotate (validated against RotateWebhookSecretRequest; optional). */
export interface RotateSecretBody {
  gracePeriodSeconds?: number;
}

/** The RotatedWebhookSecret schema of openapi.yaml. */
export interface RotatedSecretResource {
  webhookId: string;
  secretVersion: number;
  secret: string;
  createdAt: string;
  previousSecretExpiresAt?: string;
}

/** The WebhookDelivery schema of openapi.yaml. */
export interface WebhookDeliveryResource {
  id: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  accountId: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  createdAt: string;
  nextAttemptAt?: string;
  deliveredAt?: string;
  secretVersions: number[];
}

export interface DeliveriesQuery {
  limit?: number;
  cursor?: string;
}

const DELIVERY_STATUSES: Readonly<Partial<Record<DeliveryStatus, WebhookDeliveryResource['status']>>> = {
  [DeliveryStatus.DELIVERY_STATUS_PENDING]: 'pending',
  [DeliveryStatus.DELIVERY_STATUS_SUCCEEDED]: 'succeeded',
  [DeliveryStatus.DELIVERY_STATUS_FAILED]: 'failed',
};

export function toCreateEndpointRequest(body: CreateWebhookBody, idempotencyKey: string): CreateEndpointRequest {
  return { url: body.url, events: [...body.events], idempotencyKey };
}

export function fromEndpoint(endpoint: Endpoint | undefined, what: string): WebhookResource {
  if (!endpoint) throw new UnexpectedUpstreamResponseError(`${what}: endpoint missing`);
  return {
    id: endpoint.id,
    ownerId: endpoint.ownerId,
    url: endpoint.url,
    events: endpoint.events,
    enabled: endpoint.enabled,
    createdAt: toIsoTimestamp(endpoint.createdAt, `${what}: created_at`),
    secretVersion: endpoint.secretVersion,
    ...(endpoint.previousSecretExpiresAt ? { previousSecretExpiresAt: toIsoTimestamp(endpoint.previousSecretExpiresAt, `${what}: previous_secret_expires_at`) } : {}),
  };
}

/** The secret is in the first answer and in every replay by key; an empty one is never shown. */
export function fromCreateEndpointResponse(response: CreateEndpointResponse): { webhook: WebhookResource & { secret?: string }; replayed: boolean } {
  const webhook = fromEndpoint(response.endpoint, 'CreateEndpoint');
  return { webhook: response.secret ? { ...webhook, secret: response.secret } : webhook, replayed: response.replayed };
}

export function fromDelivery(delivery: Delivery | undefined, what: string): WebhookDeliveryResource {
  if (!delivery) throw new UnexpectedUpstreamResponseError(`${what}: delivery missing`);
  const status = DELIVERY_STATUSES[delivery.status];
  if (!status) throw new UnexpectedUpstreamResponseError(`${what}: delivery status ${delivery.status}`);
  const resource: WebhookDeliveryResource = {
    id: delivery.id,
    webhookId: delivery.endpointId,
    eventId: delivery.eventId,
    eventType: delivery.eventType,
    accountId: delivery.accountId,
    status,
    attempts: delivery.attempts,
    createdAt: toIsoTimestamp(delivery.createdAt, `${what}: created_at`),
    secretVersions: [...delivery.secretVersions],
  };
  // 0 = no HTTP answer (timeout, refused): left out rather than shown as a status.
  if (delivery.lastStatusCode >= 100 && delivery.lastStatusCode <= 599) resource.lastStatusCode = delivery.lastStatusCode;
  if (delivery.lastError) resource.lastError = delivery.lastError.slice(0, 500);
  if (delivery.nextAttemptAt) resource.nextAttemptAt = toIsoTimestamp(delivery.nextAttemptAt, `${what}: next_attempt_at`);
  if (delivery.deliveredAt) resource.deliveredAt = toIsoTimestamp(delivery.deliveredAt, `${what}: delivered_at`);
  return resource;
}

/**
 * The service's page token is opaque and of its own alphabet; the REST cursor
 * is its base64url form, so the contract's cursor pattern holds whatever the
 * service puts in it. A cursor that does not decode is passed on as garbage
 * and refused by the service (400), never guessed at here.
 */
export function toListDeliveriesRequest(webhookId: string, query: DeliveriesQuery): ListDeliveriesRequest {
  return {
    endpointId: canonicalUuid(webhookId),
    pageSize: query.limit ?? 20,
    pageToken: query.cursor === undefined ? '' : Buffer.from(query.cursor, 'base64url').toString('utf8'),
  };
}

export function fromListDeliveriesResponse(response: ListDeliveriesResponse): { items: WebhookDeliveryResource[]; nextCursor: string | null } {
  return {
    items: response.deliveries.map((delivery) => fromDelivery(delivery, 'ListDeliveries')),
    nextCursor: response.nextPageToken ? Buffer.from(response.nextPageToken, 'utf8').toString('base64url') : null,
  };
}

export function toRotateSecretRequest(webhookId: string, body: RotateSecretBody | undefined, idempotencyKey: string): RotateSecretRequest {
  return { endpointId: canonicalUuid(webhookId), idempotencyKey, gracePeriodSeconds: body?.gracePeriodSeconds };
}

export function fromRotateSecretResponse(response: RotateSecretResponse): { rotated: RotatedSecretResource; replayed: boolean } {
  const webhook = fromEndpoint(response.endpoint, 'RotateSecret');
  if (!response.secret || response.secretVersion < 1) throw new UnexpectedUpstreamResponseError('RotateSecret: secret missing');
  const rotated: RotatedSecretResource = {
    webhookId: webhook.id,
    secretVersion: response.secretVersion,
    secret: response.secret,
    createdAt: toIsoTimestamp(response.createdAt, 'RotateSecret: created_at'),
  };
  // The replaced version's grace end, while this rotation's version is the current one.
  if (webhook.secretVersion === response.secretVersion && webhook.previousSecretExpiresAt) rotated.previousSecretExpiresAt = webhook.previousSecretExpiresAt;
  return { rotated, replayed: response.replayed };
}
