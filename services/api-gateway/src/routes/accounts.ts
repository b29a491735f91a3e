import { hasRole } from '@wallet/platform/auth';
import type { FastifyInstance } from 'fastify';
import { fromCreateAccountResponse, toCreateAccountRequest, toMeResource, type CreateAccountBody } from '../mapping/accounts.js';
import { callContextOf, forbidden, principalOf } from '../plugins/auth.js';
import { IDEMPOTENT_REPLAYED_HEADER } from '../plugins/errors.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export function registerAccountRoutes(app: FastifyInstance, { spec, clients }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('createAccount')),
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const body = request.body as CreateAccountBody;
      // Defence in depth (the bank refuses it too): only admin opens accounts for someone else.
      if (body.ownerId !== undefined && body.ownerId !== principal.subject && !hasRole(principal, 'admin')) {
        throw forbidden('Only an admin may open an account for another owner.');
      }
      const idempotencyKey = request.headers['idempotency-key'] as string;
      const response = await clients.bank.createAccount(toCreateAccountRequest(body, idempotencyKey), callContextOf(request));
      const { account, replayed } = fromCreateAccountResponse(response);
      if (replayed) reply.header(IDEMPOTENT_REPLAYED_HEADER, 'true');
      return reply.code(201).send(account);
    },
  });

  app.route({
    ...operationRoute(spec.operation('getMe')),
    handler: async (request, reply) => {
      const principal = principalOf(request);
      const response = await clients.bank.listAccounts({ ownerId: '' }, callContextOf(request));
      return reply.header('cache-control', 'no-store').send(toMeResource(principal, response));
    },
  });
}
