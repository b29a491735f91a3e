// GET /admin/accounts?owner=<username>: the operator console finds a user's
// accounts. The identity-service turns the username into the owner id (with the
// caller's own token), the bank lists that owner's accounts (checking the
// caller's role itself).
import { hasRole } from '@wallet/platform/auth';
import type { FastifyInstance } from 'fastify';
import { createIdentityUsersClient, IdentityForbiddenError, type IdentityUsersApi } from '../clients/identity-users.js';
import { IdentityBadResponseError, IdentityTimeoutError, IdentityUnavailableError } from '../clients/identity.js';
import { fromSignedMoney, toIsoTimestamp } from '../mapping/common.js';
import { EDGE_PROBLEMS, ProblemError, type ProblemKind } from '../mapping/problems.js';
import { callContextOf, forbidden, principalOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

const USER_NOT_FOUND: ProblemKind = { status: 404, slug: 'user-not-found', title: 'User not found', code: 'USER_NOT_FOUND' };

function lookupFailure(error: unknown): unknown {
  if (error instanceof IdentityForbiddenError) return forbidden('The identity service refused the lookup for this caller.');
  if (error instanceof IdentityTimeoutError) return new ProblemError(EDGE_PROBLEMS.identityTimeout, '');
  if (error instanceof IdentityUnavailableError) return new ProblemError(EDGE_PROBLEMS.identityUnavailable, '');
  if (error instanceof IdentityBadResponseError) return new ProblemError(EDGE_PROBLEMS.identityBadResponse, '');
  return error;
}

export interface AdminAccountsOptions {
  identityUrl: string;
  timeoutMs: number;
  ca?: Buffer;
  /** Tests pass a stand-in. */
  users?: IdentityUsersApi;
}

export function registerAdminAccountRoutes(app: FastifyInstance, { spec, clients }: RouteDeps, options: AdminAccountsOptions): void {
  const users = options.users ?? createIdentityUsersClient({ baseUrl: options.identityUrl, timeoutMs: options.timeoutMs, ...(options.ca ? { ca: options.ca } : {}) });
  app.addHook('onClose', async () => users.close());
  app.route({
    ...operationRoute(spec.operation('findAccountsByOwner')),
    handler: async (request, reply) => {
      const principal = principalOf(request);
      if (!hasRole(principal, 'support') && !hasRole(principal, 'admin')) throw forbidden('Only support and admin may look up accounts by owner.');
      const { owner } = request.query as { owner: string };
      const context = callContextOf(request);
      let user;
      try {
        user = await users.findByUsername(owner, { requestId: context.requestId, authorization: request.bearer ?? '' });
      } catch (error) {
        request.log.warn({ err: { name: (error as Error).name } }, 'identity-service user lookup failed');
        throw lookupFailure(error);
      }
      if (!user) throw new ProblemError(USER_NOT_FOUND, 'No user with that username.');
      const response = await clients.bank.listAccounts({ ownerId: user.userId }, context);
      return reply.header('cache-control', 'no-store').send({
        owner: user,
        accounts: response.accounts.map((a) => ({
          accountId: a.accountId,
          ownerId: a.ownerId,
          currency: a.currency,
          // Signed: an account may be below zero under its overdraft (ADR 0016).
          balance: fromSignedMoney(a.balance, 'ListAccounts').amount,
          available: fromSignedMoney(a.available, 'ListAccounts').amount,
          pending: fromSignedMoney(a.pending, 'ListAccounts').amount,
          posted: fromSignedMoney(a.posted, 'ListAccounts').amount,
          createdAt: toIsoTimestamp(a.createdAt, 'ListAccounts'),
        })),
      });
    },
  });
}
