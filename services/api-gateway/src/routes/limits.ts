// Account limits (issue #15 F2, ADR 0016): the bank decides who may read
// (owner, support, admin) and who may set what (admin: everything; owner:
// daily/monthly limits within the admin maxima and the time zone).
import type { FastifyInstance } from 'fastify';
import { canonicalUuid } from '../mapping/common.js';
import { fromAccountLimits, toSetAccountLimitsRequest, type LimitsUpdateBody } from '../mapping/limits.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export function registerLimitRoutes(app: FastifyInstance, { spec, clients }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('getAccountLimits')),
    handler: async (request, reply) => {
      const { accountId } = request.params as { accountId: string };
      const response = await clients.bank.getAccountLimits({ accountId: canonicalUuid(accountId) }, callContextOf(request));
      return reply.header('cache-control', 'no-store').send(fromAccountLimits(response.limits, 'GetAccountLimits'));
    },
  });
  app.route({
    ...operationRoute(spec.operation('setAccountLimits')),
    handler: async (request, reply) => {
      const { accountId } = request.params as { accountId: string };
      const grpcRequest = toSetAccountLimitsRequest(accountId, request.body as LimitsUpdateBody);
      const response = await clients.bank.setAccountLimits(grpcRequest, callContextOf(request));
      return reply.header('cache-control', 'no-store').send(fromAccountLimits(response.limits, 'SetAccountLimits'));
    },
  });
}
