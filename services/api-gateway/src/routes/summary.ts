import type { FastifyInstance } from 'fastify';
import { selectsNothing } from '../mapping/operations.js';
import { emptySummaryResponse, fromGetAccountSummaryResponse, toGetAccountSummaryRequest, type SummaryQuery } from '../mapping/summary.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import { withAccountCheck } from './account-check.js';
import type { RouteDeps } from './deps.js';

export function registerSummaryRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('getAccountSummary')),
    handler: async (request) => {
      const { accountId } = request.params as { accountId: string };
      const query = request.query as SummaryQuery;
      const grpcRequest = toGetAccountSummaryRequest(accountId, query);
      // The bank decides who may read the account (and sees the token); analytics is asked only for data.
      const context = { requestId: request.id };
      const response = await withAccountCheck(clients, grpcRequest.accountId, callContextOf(request), () =>
        selectsNothing(grpcRequest)
          ? Promise.resolve(emptySummaryResponse(grpcRequest))
          : clients.analytics.getAccountSummary(grpcRequest, context),
      );
      return fromGetAccountSummaryResponse(response, grpcRequest, query, config.GATEWAY_CURRENCY);
    },
  });
}
