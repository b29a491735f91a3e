import { status as GrpcStatus } from '@grpc/grpc-js';
import { isServiceError } from '@wallet/platform';
import type { CallContext, GatewayClients } from '../clients/types.js';

/**
 * Runs an analytics query while checking, in parallel, that the account
 * exists: analytics only knows accounts that have events, the bank knows them
 * all. Precedence: unknown account (404) first, then the analytics failure
 * (e.g. 503 while analytics is down; transfers and balances do not depend on
 * it), then a failed existence check.
 */
export async function withAccountCheck<T>(clients: GatewayClients, accountId: string, context: CallContext, query: () => Promise<T>): Promise<T> {
  const [account, result] = await Promise.allSettled([clients.bank.getBalance({ accountId }, context), query()]);
  if (account.status === 'rejected' && isServiceError(account.reason) && account.reason.code === GrpcStatus.NOT_FOUND) {
    throw account.reason;
  }
  if (result.status === 'rejected') throw result.reason;
  if (account.status === 'rejected') throw account.reason;
  return result.value;
}
