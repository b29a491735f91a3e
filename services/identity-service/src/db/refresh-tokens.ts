import type pg from 'pg';
import { withTransaction } from '@wallet/platform/db';
import { decideRefresh, type RefreshDecision, type RefreshTokenRecord } from '../domain/refresh.js';

export interface NewRefreshToken {
  tokenHash: Buffer;
  familyId: string;
  userId: string;
  clientId: string | undefined;
  expiresAtMs: number;
}

interface DbRefresh {
  family_id: string;
  user_id: string;
  client_id: string | null;
  expires_at: Date;
  rotated_at: Date | null;
  revoked_at: Date | null;
}

const SELECT = 'SELECT family_id, user_id, client_id, expires_at, rotated_at, revoked_at FROM identity.refresh_tokens WHERE token_hash = $1';

const toRecord = (row: DbRefresh): RefreshTokenRecord & { clientId: string | null } => ({
  familyId: row.family_id,
  userId: row.user_id,
  clientId: row.client_id,
  expiresAtMs: row.expires_at.getTime(),
  rotatedAtMs: row.rotated_at?.getTime() ?? null,
  revokedAtMs: row.revoked_at?.getTime() ?? null,
});

export type ExchangeResult =
  | { decision: Extract<RefreshDecision, { action: 'rotate' }>; userId: string; clientId: string | undefined }
  | { decision: Exclude<RefreshDecision, { action: 'rotate' }> };

async function insertToken(client: pg.Pool | pg.PoolClient, token: NewRefreshToken): Promise<void> {
  await client.query(
    `INSERT INTO identity.refresh_tokens (token_hash, family_id, user_id, client_id, expires_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [token.tokenHash, token.familyId, token.userId, token.clientId ?? null, new Date(token.expiresAtMs)],
  );
}

async function revokeFamily(client: pg.Pool | pg.PoolClient, familyId: string): Promise<void> {
  await client.query('UPDATE identity.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL', [familyId]);
}

export class PgRefreshTokenStore {
  constructor(private readonly pool: pg.Pool) {}

  /** The first token of a new family (a login). */
  insert(token: NewRefreshToken): Promise<void> {
    return insertToken(this.pool, token);
  }

  /**
   * Exchanges a presented token in one transaction (the successor inherits
   * its family, user and client): the row is locked, the
   * domain decides, and either the old token is marked rotated and its
   * successor inserted (same family), or on reuse the whole family is revoked.
   * Two concurrent exchanges of one token serialise: the second sees it rotated.
   */
  exchange(tokenHash: Buffer, nowMs: number, clientId: string | undefined, successor: NewRefreshToken): Promise<ExchangeResult> {
    return withTransaction(this.pool, 'BEGIN', async (client) => {
      const { rows } = await client.query<DbRefresh>(`${SELECT} FOR UPDATE`, [tokenHash]);
      const record = rows[0] ? toRecord(rows[0]) : undefined;
      const decision = decideRefresh(record, nowMs, clientId);
      if (decision.action === 'revoke_family' && record) {
        await revokeFamily(client, record.familyId);
        return { decision };
      }
      if (decision.action !== 'rotate' || !record) return { decision: decision as Exclude<RefreshDecision, { action: 'rotate' }> };
      await client.query('UPDATE identity.refresh_tokens SET rotated_at = now() WHERE token_hash = $1', [tokenHash]);
      await insertToken(client, { ...successor, userId: record.userId, familyId: record.familyId, clientId: record.clientId ?? undefined });
      return { decision, userId: record.userId, clientId: record.clientId ?? undefined };
    });
  }

  /** Logout: revokes the token's whole family; false when the token is unknown. */
  async revokeFamilyOf(tokenHash: Buffer): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE identity.refresh_tokens SET revoked_at = now()
       WHERE family_id = (SELECT family_id FROM identity.refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL`,
      [tokenHash],
    );
    return (result.rowCount ?? 0) > 0;
  }

  /**
   * RFC 7009 revocation: like revokeFamilyOf, but a token bound to a client is
   * revoked only when that client asks ('wrong_client' otherwise, nothing changed).
   */
  async revokeFamilyOfClient(tokenHash: Buffer, clientId: string | undefined): Promise<'revoked' | 'unknown' | 'wrong_client'> {
    const { rows } = await this.pool.query<{ family_id: string; client_id: string | null }>(
      'SELECT family_id, client_id FROM identity.refresh_tokens WHERE token_hash = $1',
      [tokenHash],
    );
    const row = rows[0];
    if (!row) return 'unknown';
    if (row.client_id !== null && row.client_id !== clientId) return 'wrong_client';
    await revokeFamily(this.pool, row.family_id);
    return 'revoked';
  }

  /** Deletes tokens expired for a while (bounded per call); their families can no longer be used anyway. */
  async purgeExpired(nowMs: number, batchMax = 1_000): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM identity.refresh_tokens WHERE token_hash IN (
         SELECT token_hash FROM identity.refresh_tokens WHERE expires_at < $1 LIMIT $2)`,
      [new Date(nowMs - 24 * 3_600_000), batchMax],
    );
    return result.rowCount ?? 0;
  }
}
