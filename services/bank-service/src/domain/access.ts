// Who may do what with which account: the platform's pure role rules
// (readAccess, moveAccess) applied to the bank's requests. No I/O: the owner
// of an account is looked up by the caller and handed in. An account the
// caller may not see answers exactly like an unknown one (same error, same
// message, same metadata), so ids cannot be enumerated.
import { hasRole, mayMoveMoney, moveAccess, readAccess, type Principal } from '@wallet/platform/auth';
import { AccountNotFoundError, RoleForbiddenError, type AccountRole } from './errors.js';

export type { Principal };

/** The owner of an existing customer account (null: none, e.g. opened before owners existed); undefined: no such account. */
export type OwnerLookup = { ownerId: string | null } | undefined;

/** Refuses a caller whose role never moves money (support), before any account is looked at. */
export function checkMayMoveMoney(caller: Principal): void {
  if (!mayMoveMoney(caller)) throw new RoleForbiddenError('move money');
}

/** Whether the sender's owner must be known to decide (admin may move from any account). */
export function needsOwnerToMove(caller: Principal): boolean {
  return !hasRole(caller, 'admin');
}

/** Debiting `accountId`: its owner or admin; anyone else hears "not found", like for an unknown account. */
export function checkMoveFrom(caller: Principal, accountId: string, owner: OwnerLookup, role: AccountRole = 'sender'): void {
  const access = moveAccess(caller, owner?.ownerId ?? null);
  if (access === 'forbidden') throw new RoleForbiddenError('move money');
  if (access === 'not_found') throw new AccountNotFoundError(accountId, role);
}

/** Reading `accountId` (balance): its owner, support or admin. */
export function checkRead(caller: Principal, accountId: string, owner: OwnerLookup): void {
  if (owner === undefined || readAccess(caller, owner.ownerId) !== 'allow') throw new AccountNotFoundError(accountId, 'account');
}

/** The owner of a new account: a customer opens for itself, admin for anyone, support never. */
export function openingOwner(caller: Principal, requestedOwnerId: string | undefined): string {
  if (hasRole(caller, 'admin')) return requestedOwnerId ?? caller.subject;
  if (hasRole(caller, 'support')) throw new RoleForbiddenError('open accounts');
  if (requestedOwnerId !== undefined && requestedOwnerId !== caller.subject) throw new RoleForbiddenError('open accounts for another owner');
  return caller.subject;
}

/** Whose accounts a listing shows: the caller's own; support and admin may name any owner. */
export function listingOwner(caller: Principal, requestedOwnerId: string | undefined): string {
  if (requestedOwnerId === undefined || requestedOwnerId === caller.subject) return caller.subject;
  if (hasRole(caller, 'admin') || hasRole(caller, 'support')) return requestedOwnerId;
  throw new RoleForbiddenError('list the accounts of another owner');
}
