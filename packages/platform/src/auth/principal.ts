/**
 * The verified caller of a request, as every service sees it after checking an
 * access token. Pure: no I/O.
 */
export type Role = 'customer' | 'support' | 'admin';

export const ROLES: readonly Role[] = ['customer', 'support', 'admin'];

export interface Principal {
  /** The token's `sub`: a user id, or a client id for client-credentials tokens. */
  subject: string;
  /** Known roles only; a token without any gets `customer`. */
  roles: readonly Role[];
  /** `username` or `preferred_username`, when the issuer sets one. */
  username?: string;
  /** `client_id` (or `azp`) when the token names the client it was issued to. */
  clientId?: string;
  /** The token's `jti`, for audit lines; never the token itself. */
  tokenId?: string;
  /** `exp`, seconds since the epoch. */
  expiresAtSeconds: number;
}

/** Subjects are stored as owners; bound them like any other field. */
export const SUBJECT_LENGTH_MAX = 255;

/**
 * Reads a claim by name, or by dotted path when no top-level claim has that
 * name (Keycloak puts roles in `realm_access.roles`; Auth0 uses URL-named
 * top-level claims, which contain dots).
 */
export function readClaim(payload: Record<string, unknown>, path: string): unknown {
  if (Object.hasOwn(payload, path)) return payload[path];
  let node: unknown = payload;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Roles from the configured claim (array, or space-separated string); unknown names are ignored. */
export function rolesFromClaims(payload: Record<string, unknown>, rolesClaim: string): Role[] {
  const raw = readClaim(payload, rolesClaim);
  const names = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(' ') : [];
  const roles = ROLES.filter((role) => names.includes(role));
  return roles.length > 0 ? roles : ['customer'];
}

export function hasRole(principal: Principal, role: Role): boolean {
  return principal.roles.includes(role);
}

/**
 * What a caller may do with one account, from its roles and the account's
 * owner. `not_found` is deliberate for other people's accounts: answering
 * exactly like an unknown account leaks nothing (no enumeration).
 */
export type AccountAccess = 'allow' | 'not_found' | 'forbidden';

/** Reading balance, history, summary: owner, support, admin. */
export function readAccess(principal: Principal, ownerId: string | null): AccountAccess {
  if (hasRole(principal, 'admin') || hasRole(principal, 'support')) return 'allow';
  return ownerId !== null && ownerId === principal.subject ? 'allow' : 'not_found';
}

/**
 * Moving money out of (or into, for top-ups) an account: owner or admin.
 * Support is refused before the account is looked at, so 403 reveals nothing.
 */
export function moveAccess(principal: Principal, ownerId: string | null): AccountAccess {
  if (hasRole(principal, 'admin')) return 'allow';
  if (hasRole(principal, 'support')) return 'forbidden';
  return ownerId !== null && ownerId === principal.subject ? 'allow' : 'not_found';
}

/** Whether the role may move money at all (checked before any lookup). */
export function mayMoveMoney(principal: Principal): boolean {
  return hasRole(principal, 'admin') || !hasRole(principal, 'support');
}
