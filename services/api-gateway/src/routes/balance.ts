import type { FastifyInstance } from 'fastify';
import { fromGetBalanceAtResponse, fromGetBalanceResponse } from '../mapping/balance.js';
import { canonicalUuid } from '../mapping/common.js';
import { toDate } from '../mapping/time-range.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export function registerBalanceRoutes(app: FastifyInstance, { spec, clients }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('getBalance')),
    handler: async (request) => {
      const { accountId } = request.params as { accountId: string };
      const { at } = request.query as { at?: string };
      const id = canonicalUuid(accountId);
      // ?at=: the posted balance at that instant, summed from the ledger entries (ADR 0020).
      if (at !== undefined) {
        const response = await clients.bank.getBalanceAt({ accountId: id, at: toDate(at, 'query.at') }, callContextOf(request));
        return fromGetBalanceAtResponse(response);
      }
      const response = await clients.bank.getBalance({ accountId: id }, callContextOf(request));
      return fromGetBalanceResponse(response);
    },
  });
}
