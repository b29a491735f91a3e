// GET /admin/ledger/verify (issue #15 F3, ADR 0019): the bank recomputes the
// per-account hash chains of a page of accounts and reports the first break.
// Admin only (the bank checks it again).
import { hasRole } from '@wallet/platform/auth';
import type { FastifyInstance } from 'fastify';
import { fromVerifyLedgerResponse, toVerifyLedgerRequest, type LedgerVerifyQuery } from '../mapping/reversals.js';
import { callContextOf, forbidden, principalOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export function registerAdminLedgerRoutes(app: FastifyInstance, { spec, clients }: RouteDeps): void {
  app.route({
    ...operationRoute(spec.operation('verifyLedger')),
    handler: async (request, reply) => {
      if (!hasRole(principalOf(request), 'admin')) throw forbidden('Only admin may verify the ledger.');
      const response = await clients.bank.verifyLedger(toVerifyLedgerRequest(request.query as LedgerVerifyQuery), callContextOf(request));
      return reply.header('cache-control', 'no-store').send(fromVerifyLedgerResponse(response));
    },
  });
}
