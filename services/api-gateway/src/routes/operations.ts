import type { FastifyInstance } from 'fastify';
import { fromGetOperationsResponse, selectsNothing, toGetOperationsRequest, type OperationsQuery } from '../mapping/operations.js';
import { callContextOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import { withAccountCheck } from './account-check.js';
import type { RouteDeps } from './deps.js';

export function registerOperationRoutes(app: FastifyInstance, { spec, clients }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('listOperations')),
    handler: async (request) => {
      const { accountId } = request.params as { accountId: string };
      const grpcRequest = toGetOperationsRequest(accountId, request.query as OperationsQuery);
      // The bank decides who may read the account (and sees the token); analytics is asked only for data.
      const context = { requestId: request.id };
      const response = await withAccountCheck(clients, grpcRequest.accountId, callContextOf(request), () =>
        selectsNothing(grpcRequest)
          ? Promise.resolve({ operations: [], nextPageToken: '' })
          : clients.analytics.getOperations(grpcRequest, context),
      );
      return fromGetOperationsResponse(response);
    },
  });
}
