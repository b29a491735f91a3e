import type { FastifyInstance } from 'fastify';
import { fromTopUpRefund, toRefundTopUpRequest, type RefundTopUpBody } from '../mapping/refunds.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';
import { IDEMPOTENT_REPLAYED_HEADER } from './transfers.js';

// Refunds of card top-ups to the card (issue 15, ADR 0018): the card adapter
// runs the saga and decides who may (the account's owner or admin).
export function registerRefundRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('refundTopUp')),
    handler: async (request, reply) => {
      const { topUpId } = request.params as { topUpId: string };
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const grpcRequest = toRefundTopUpRequest(topUpId, request.body as RefundTopUpBody | undefined, idempotencyKey, config.GATEWAY_CURRENCY);
      const response = await clients.cardAdapter.refundTopUp(grpcRequest, callContextOf(request));
      const refund = fromTopUpRefund(response.refund, 'RefundTopUp');
      if (response.replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      // Pending: the outcome is not known yet (never guessed); finished refunds are created resources.
      return reply.code(refund.status === 'pending' ? 202 : 201).send(refund);
    },
  });
  app.route({
    ...operationRoute(spec.operation('listTopUpRefunds')),
    handler: async (request, reply) => {
      const { topUpId } = request.params as { topUpId: string };
      const response = await clients.cardAdapter.getTopUpRefund({ refundId: '', topUpId: topUpId.toLowerCase() }, callContextOf(request));
      return reply.code(200).send({ refunds: response.refunds.map((refund) => fromTopUpRefund(refund, 'GetTopUpRefund')) });
    },
  });
}
