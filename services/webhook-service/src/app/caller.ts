// Who is calling: the end user's access token (forwarded by the gateway as
// metadata "authorization: Bearer ..."), verified here again, and the role rules:
// customer: own endpoints; support: read any; admin: everything.
import { AccessTokenError, hasRole, parseBearer, type Principal, type TokenVerifier } from '@wallet/platform/auth';
import { WebhookError } from '../domain/errors.js';

export async function authenticate(verifier: TokenVerifier, authorization: string | undefined): Promise<Principal> {
  const bearer = parseBearer(authorization);
  if (bearer.kind === 'missing') throw new WebhookError('CALLER_UNAUTHENTICATED', 'no access token (metadata authorization: Bearer <token>)');
  if (bearer.kind === 'malformed') throw new WebhookError('CALLER_UNAUTHENTICATED', 'the authorization metadata is not a bearer access token');
  try {
    return await verifier.verify(bearer.token);
  } catch (error) {
    if (error instanceof AccessTokenError && error.code === 'invalid_token') throw new WebhookError('CALLER_UNAUTHENTICATED', error.description);
    throw new WebhookError('IDENTITY_UNAVAILABLE', 'the token issuer is unreachable; retry');
  }
}

export const isAdmin = (principal: Principal): boolean => hasRole(principal, 'admin');
export const isSupport = (principal: Principal): boolean => hasRole(principal, 'support');

/** Support reads only: refused before anything is looked at. */
export function assertMayWrite(principal: Principal, action: string): void {
  if (!isAdmin(principal) && isSupport(principal)) throw new WebhookError('ROLE_FORBIDDEN', `this role may not ${action}`);
}

/** Whether the caller may see an endpoint owned by ownerId (others' look unknown: NOT_FOUND). */
export function maySee(principal: Principal, ownerId: string): boolean {
  return isAdmin(principal) || isSupport(principal) || principal.subject === ownerId;
}

/** Whether the caller may change an endpoint owned by ownerId. */
export function mayChange(principal: Principal, ownerId: string): boolean {
  return isAdmin(principal) || (!isSupport(principal) && principal.subject === ownerId);
}
