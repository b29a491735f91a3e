import type { FastifyInstance } from 'fastify';
import {
  fromCreateEndpointResponse,
  fromDelivery,
  fromEndpoint,
  fromListDeliveriesResponse,
  fromRotateSecretResponse,
  toCreateEndpointRequest,
  toListDeliveriesRequest,
  toRotateSecretRequest,
  type CreateWebhookBody,
  type DeliveriesQuery,
  type RotateSecretBody,
} from '../mapping/webhooks.js';
import { canonicalUuid } from '../mapping/common.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';
import { IDEMPOTENT_REPLAYED_HEADER } from './transfers.js';

// /webhooks: registration and the delivery log, forwarded to the webhook-service,
// which decides who may see and change what (customer: own endpoints; support:
// read any; admin: all) from the forwarded token. Deliveries themselves never
// pass through here: the service sends them from the event stream.
export function registerWebhookRoutes(app: FastifyInstance, { spec, clients }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('createWebhook')),
    handler: async (request, reply) => {
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const grpcRequest = toCreateEndpointRequest(request.body as CreateWebhookBody, idempotencyKey);
      const { webhook, replayed } = fromCreateEndpointResponse(await clients.webhooks.createEndpoint(grpcRequest, callContextOf(request)));
      if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      // The answer carries the secret: nothing on the way may keep a copy.
      return reply.code(201).header('cache-control', 'no-store').send(webhook);
    },
  });

  app.route({
    ...operationRoute(spec.operation('rotateWebhookSecret')),
    handler: async (request, reply) => {
      const { webhookId } = request.params as { webhookId: string };
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const grpcRequest = toRotateSecretRequest(webhookId, request.body as RotateSecretBody | undefined, idempotencyKey);
      const { rotated, replayed } = fromRotateSecretResponse(await clients.webhooks.rotateSecret(grpcRequest, callContextOf(request)));
      if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(200).header('cache-control', 'no-store').send(rotated);
    },
  });

  app.route({
    ...operationRoute(spec.operation('listWebhooks')),
    handler: async (request) => {
      const { ownerId } = request.query as { ownerId?: string };
      const response = await clients.webhooks.listEndpoints({ ownerId: ownerId ?? '' }, callContextOf(request));
      return { items: response.endpoints.map((endpoint) => fromEndpoint(endpoint, 'ListEndpoints')) };
    },
  });

  app.route({
    ...operationRoute(spec.operation('getWebhook')),
    handler: async (request) => {
      const { webhookId } = request.params as { webhookId: string };
      const response = await clients.webhooks.getEndpoint({ endpointId: canonicalUuid(webhookId) }, callContextOf(request));
      return fromEndpoint(response.endpoint, 'GetEndpoint');
    },
  });

  app.route({
    ...operationRoute(spec.operation('deleteWebhook')),
    handler: async (request) => {
      const { webhookId } = request.params as { webhookId: string };
      const response = await clients.webhooks.deleteEndpoint({ endpointId: canonicalUuid(webhookId) }, callContextOf(request));
      return fromEndpoint(response.endpoint, 'DeleteEndpoint');
    },
  });

  app.route({
    ...operationRoute(spec.operation('listWebhookDeliveries')),
    handler: async (request) => {
      const { webhookId } = request.params as { webhookId: string };
      const grpcRequest = toListDeliveriesRequest(webhookId, request.query as DeliveriesQuery);
      return fromListDeliveriesResponse(await clients.webhooks.listDeliveries(grpcRequest, callContextOf(request)));
    },
  });

  app.route({
    ...operationRoute(spec.operation('redeliverWebhookDelivery')),
    handler: async (request, reply) => {
      const { webhookId, deliveryId } = request.params as { webhookId: string; deliveryId: string };
      const grpcRequest = { endpointId: canonicalUuid(webhookId), deliveryId: canonicalUuid(deliveryId) };
      const response = await clients.webhooks.redeliver(grpcRequest, callContextOf(request));
      return reply.code(202).send(fromDelivery(response.delivery, 'Redeliver'));
    },
  });
}
