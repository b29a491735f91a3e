// The claims of an access token. Pure: the signer adds the protected header.
import type { Role } from './roles.js';

export interface AccessTokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface UserPrincipal {
  kind: 'user';
  userId: string;
  username: string;
  roles: Role[];
  /** The first-party client that asked, if it said. */
  clientId?: string;
}

export interface ClientPrincipal {
  kind: 'client';
  clientId: string;
  roles: Role[];
  scopes: string[];
}

export type Principal = UserPrincipal | ClientPrincipal;

export interface AccessTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  roles: Role[];
  scope: string;
  username?: string;
  client_id?: string;
}

export function accessTokenClaims(
  principal: Principal,
  scope: string,
  settings: AccessTokenSettings,
  nowMs: number,
  jti: string,
): AccessTokenClaims {
  const iat = Math.floor(nowMs / 1000);
  const claims: AccessTokenClaims = {
    iss: settings.issuer,
    aud: settings.audience,
    sub: principal.kind === 'user' ? principal.userId : principal.clientId,
    iat,
    exp: iat + settings.ttlSeconds,
    jti,
    roles: [...principal.roles],
    scope,
  };
  if (principal.kind === 'user') claims.username = principal.username;
  if (principal.clientId !== undefined) claims.client_id = principal.clientId;
  return claims;
}

/**
 * The scope a client receives: what it asked for when all of it is granted,
 * else undefined (invalid_scope). Asking for nothing yields all it may have.
 */
export function grantedScope(requested: string | undefined, allowed: readonly string[]): string | undefined {
  if (requested === undefined || requested.trim() === '') return allowed.join(' ');
  const asked = [...new Set(requested.split(' ').filter((s) => s !== ''))];
  return asked.every((s) => allowed.includes(s)) ? asked.join(' ') : undefined;
}
