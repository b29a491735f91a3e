import type { FastifyInstance } from 'fastify';
import { fromGetBalanceResponse } from '../mapping/balance.js';
import { canonicalUuid } from '../mapping/common.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export function registerBalanceRoutes(app: FastifyInstance, { spec, clients }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('getBalance')),
    handler: async (request) => {
      const { accountId } = request.params as { accountId: string };
      const response = await clients.bank.getBalance({ accountId: canonicalUuid(accountId) }, callContextOf(request));
      return fromGetBalanceResponse(response);
    },
  });
}
