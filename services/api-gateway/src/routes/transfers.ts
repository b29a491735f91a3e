import type { FastifyInstance } from 'fastify';
import { fromTransferMoneyResponse, toTransferMoneyRequest, type TransferRequestBody } from '../mapping/transfers.js';
import { IDEMPOTENT_REPLAYED_HEADER } from '../plugins/errors.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export { IDEMPOTENT_REPLAYED_HEADER };

export function registerTransferRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('createTransfer')),
    handler: async (request, reply) => {
      const { accountId } = request.params as { accountId: string };
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const grpcRequest = toTransferMoneyRequest(accountId, request.body as TransferRequestBody, idempotencyKey, config.GATEWAY_CURRENCY);
      const response = await clients.bank.transferMoney(grpcRequest, callContextOf(request));
      const { transfer, replayed } = fromTransferMoneyResponse(response);
      if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(201).send(transfer);
    },
  });
}
