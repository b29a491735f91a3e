// POST /transfers/{transferId}/reverse (issue #15 F3): the bank decides who
// may (the recipient's owner or admin; force is admin only) and what remains.
// GET /transfers/{transferId}/reversals: the bank decides who may read (both
// parties' owners, support, admin).
import type { FastifyInstance } from 'fastify';
import {
  fromListReversalsResponse,
  fromReverseTransferResponse,
  toListReversalsRequest,
  toReverseTransferRequest,
  type ReversalListQuery,
  type ReversalRequestBody,
} from '../mapping/reversals.js';
import { IDEMPOTENT_REPLAYED_HEADER } from '../plugins/errors.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export function registerReversalRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('reverseTransfer')),
    handler: async (request, reply) => {
      const { transferId } = request.params as { transferId: string };
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const grpcRequest = toReverseTransferRequest(transferId, request.body as ReversalRequestBody, idempotencyKey, config.GATEWAY_CURRENCY);
      const { reversal, replayed } = fromReverseTransferResponse(await clients.bank.reverseTransfer(grpcRequest, callContextOf(request)));
      if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(201).send(reversal);
    },
  });
  app.route({
    ...operationRoute(spec.operation('listTransferReversals')),
    handler: async (request) => {
      const { transferId } = request.params as { transferId: string };
      const grpcRequest = toListReversalsRequest(transferId, request.query as ReversalListQuery);
      return fromListReversalsResponse(await clients.bank.listReversals(grpcRequest, callContextOf(request)));
    },
  });
}
