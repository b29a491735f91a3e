// Refresh-token rotation decisions (OAuth 2.0 Security BCP 4.14.2). Pure.

export interface RefreshTokenRecord {
  familyId: string;
  userId: string;
  expiresAtMs: number;
  /** Set once the token was exchanged for a new one. */
  rotatedAtMs: number | null;
  revokedAtMs: number | null;
  /** The client it was issued to, if one identified itself. */
  clientId: string | null;
}

export type RefreshDecision =
  | { action: 'rotate' }
  | { action: 'reject'; reason: 'unknown' | 'expired' | 'revoked' | 'wrong_client' }
  /** A rotated token came back: someone holds a copy. Revoke every token of the family. */
  | { action: 'revoke_family'; reason: 'reused' };

/** requestClientId: the client presenting it; a token bound to a client works only for that client. */
export function decideRefresh(record: RefreshTokenRecord | undefined, nowMs: number, requestClientId: string | undefined): RefreshDecision {
  if (record === undefined) return { action: 'reject', reason: 'unknown' };
  if (record.clientId !== null && record.clientId !== requestClientId) return { action: 'reject', reason: 'wrong_client' };
  if (record.revokedAtMs !== null) return { action: 'reject', reason: 'revoked' };
  if (record.rotatedAtMs !== null) return { action: 'revoke_family', reason: 'reused' };
  if (record.expiresAtMs <= nowMs) return { action: 'reject', reason: 'expired' };
  return { action: 'rotate' };
}
