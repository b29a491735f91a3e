import { status as GrpcStatus } from '@grpc/grpc-js';
import { isServiceError } from '@wallet/platform';
import type { CallContext, GatewayClients } from '../clients/types.js';

/** Answers of the bank's check that decide the request alone: the caller may not see the account. */
const DECISIVE_CODES: ReadonlySet<number> = new Set([GrpcStatus.NOT_FOUND, GrpcStatus.UNAUTHENTICATED, GrpcStatus.PERMISSION_DENIED]);

/**
 * Runs an analytics query while checking, in parallel, that the account
 * exists and that the caller may read it: analytics only knows accounts that
 * have events and knows nothing of owners; the bank knows both and decides
 * (an account of someone else answers 404 like an unknown one). Precedence:
 * the bank's refusal (404/401/403) first, so nothing of the query leaks, then
 * the analytics failure (e.g. 503 while analytics is down; transfers and
 * balances do not depend on it), then a failed check.
 */
export async function withAccountCheck<T>(clients: GatewayClients, accountId: string, bankContext: CallContext, query: () => Promise<T>): Promise<T> {
  const [account, result] = await Promise.allSettled([clients.bank.getBalance({ accountId }, bankContext), query()]);
  if (account.status === 'rejected' && isServiceError(account.reason) && DECISIVE_CODES.has(account.reason.code)) {
    throw account.reason;
  }
  if (result.status === 'rejected') throw result.reason;
  if (account.status === 'rejected') throw account.reason;
  return result.value;
}
