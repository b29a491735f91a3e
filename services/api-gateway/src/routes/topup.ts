import type { FastifyInstance } from 'fastify';
import { fromProcessCardTopUpResponse, toProcessCardTopUpRequest, type TopUpRequestBody } from '../mapping/topup.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';
import { IDEMPOTENT_REPLAYED_HEADER } from './transfers.js';

// The body holds a card number and CVC: it is passed to the adapter and never
// logged (the access log has no bodies and the logger redacts card fields).
export function registerTopUpRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('createTopUp')),
    handler: async (request, reply) => {
      const { accountId } = request.params as { accountId: string };
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const grpcRequest = toProcessCardTopUpRequest(accountId, request.body as TopUpRequestBody, idempotencyKey, config.GATEWAY_CURRENCY);
      const response = await clients.cardAdapter.processCardTopUp(grpcRequest, callContextOf(request));
      const { topUp, replayed } = fromProcessCardTopUpResponse(response);
      if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(201).send(topUp);
    },
  });
}
