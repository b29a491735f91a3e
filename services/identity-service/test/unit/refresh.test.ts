import { describe, expect, it } from 'vitest';
import { decideRefresh, type RefreshTokenRecord } from '../../src/domain/refresh.js';

const live: RefreshTokenRecord = { familyId: 'f', userId: 'u', expiresAtMs: 1_000, rotatedAtMs: null, revokedAtMs: null, clientId: null };

describe('refresh rotation decisions', () => {
  it('rotates a live token', () => {
    expect(decideRefresh(live, 999, undefined)).toEqual({ action: 'rotate' });
  });

  it('rejects an unknown, expired or revoked token', () => {
    expect(decideRefresh(undefined, 0, undefined)).toEqual({ action: 'reject', reason: 'unknown' });
    expect(decideRefresh(live, 1_000, undefined)).toEqual({ action: 'reject', reason: 'expired' });
    expect(decideRefresh({ ...live, revokedAtMs: 5 }, 10, undefined)).toEqual({ action: 'reject', reason: 'revoked' });
  });

  it('revokes the family when an already rotated token comes back', () => {
    expect(decideRefresh({ ...live, rotatedAtMs: 5 }, 10, undefined)).toEqual({ action: 'revoke_family', reason: 'reused' });
  });

  it('treats a revoked family as revoked even for a rotated token (no second revocation)', () => {
    expect(decideRefresh({ ...live, rotatedAtMs: 5, revokedAtMs: 6 }, 10, undefined).action).toBe('reject');
  });

  it('accepts a client-bound token only from that client', () => {
    const bound = { ...live, clientId: 'wallet-cli' };
    expect(decideRefresh(bound, 10, 'wallet-cli')).toEqual({ action: 'rotate' });
    expect(decideRefresh(bound, 10, 'swagger-ui')).toEqual({ action: 'reject', reason: 'wrong_client' });
    expect(decideRefresh(bound, 10, undefined)).toEqual({ action: 'reject', reason: 'wrong_client' });
  });
});
