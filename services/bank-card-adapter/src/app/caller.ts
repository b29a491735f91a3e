// Who is calling: the end user's access token, forwarded by the gateway as
// "authorization: Bearer ...", verified here again (never trusted because the
// gateway checked it), and the role rules of the two RPCs.

import { AccessTokenError, hasRole, mayMoveMoney, parseBearer, type Principal, type TokenVerifier } from '@wallet/platform/auth';
import { DependencyUnavailable, TopUpFailure } from '../domain/failures.js';

/** The verified caller, and the bearer value to forward to the bank (which decides ownership itself). */
export interface Caller {
  principal: Principal;
  authorization: string;
}

function unauthenticated(message: string): TopUpFailure {
  return new TopUpFailure({ reason: 'CALLER_UNAUTHENTICATED', message: `${message}; nothing was charged`, charged: 'false' });
}

/**
 * Verifies the authorization metadata value. Throws TopUpFailure
 * CALLER_UNAUTHENTICATED for a missing, malformed or refused token, and
 * DependencyUnavailable when the issuer's keys cannot be fetched (not the
 * caller's fault). Never puts the token in a message.
 */
export async function authenticate(verifier: TokenVerifier, authorization: string | undefined): Promise<Caller> {
  const bearer = parseBearer(authorization);
  if (bearer.kind === 'missing') throw unauthenticated('no access token (metadata authorization: Bearer <token>)');
  if (bearer.kind === 'malformed') throw unauthenticated('the authorization metadata is not a bearer access token');
  try {
    const principal = await verifier.verify(bearer.token);
    return { principal, authorization: `Bearer ${bearer.token}` };
  } catch (error) {
    if (error instanceof AccessTokenError && error.code === 'invalid_token') throw unauthenticated(error.description);
    const description = error instanceof AccessTokenError ? error.description : 'the token issuer is unreachable';
    throw new DependencyUnavailable('token_issuer', description);
  }
}

/** Support may read but never move money: refused before anything is looked at (so 403 reveals nothing). */
export function assertMayTopUp(principal: Principal): void {
  if (!mayMoveMoney(principal)) {
    throw new TopUpFailure({ reason: 'ROLE_FORBIDDEN', message: 'this role may not top up accounts; nothing was charged', charged: 'false' });
  }
}

/**
 * Whether the caller may see an existing top-up: whoever initiated it, support
 * and admin. A top-up journaled before identity existed (no initiator) is
 * visible to support and admin only.
 */
export function maySeeTopUp(principal: Principal, initiatedBy: string | null): boolean {
  if (hasRole(principal, 'admin') || hasRole(principal, 'support')) return true;
  return initiatedBy !== null && initiatedBy === principal.subject;
}
