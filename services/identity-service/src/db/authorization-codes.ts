import type pg from 'pg';
import { withTransaction } from '@wallet/platform/db';
import { decideCodeRedemption, type AuthorizationCodeRecord, type CodeDecision, type CodePresentation } from '../domain/authorization-code.js';
import type { NewRefreshToken } from './refresh-tokens.js';

export interface NewAuthorizationCode {
  codeHash: Buffer;
  clientId: string;
  redirectUri: string;
  codeChallenge: string;
  userId: string;
  familyId: string;
  expiresAtMs: number;
}

interface DbCode {
  client_id: string;
  redirect_uri: string;
  code_challenge: string;
  user_id: string;
  family_id: string;
  expires_at: Date;
  used_at: Date | null;
}

const toRecord = (row: DbCode): AuthorizationCodeRecord => ({
  clientId: row.client_id,
  redirectUri: row.redirect_uri,
  codeChallenge: row.code_challenge,
  userId: row.user_id,
  familyId: row.family_id,
  expiresAtMs: row.expires_at.getTime(),
  usedAtMs: row.used_at?.getTime() ?? null,
});

export type RedeemResult =
  | { decision: Extract<CodeDecision, { action: 'issue' }>; userId: string; clientId: string }
  | { decision: Exclude<CodeDecision, { action: 'issue' }> };

export class PgAuthorizationCodeStore {
  constructor(private readonly pool: pg.Pool) {}

  async insert(code: NewAuthorizationCode): Promise<void> {
    await this.pool.query(
      `INSERT INTO identity.authorization_codes (code_hash, client_id, redirect_uri, code_challenge, user_id, family_id, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [code.codeHash, code.clientId, code.redirectUri, code.codeChallenge, code.userId, code.familyId, new Date(code.expiresAtMs)],
    );
  }

  /**
   * Redeems a code in one transaction: the row is locked and marked used on
   * every presentation (single use, whatever the outcome), the domain decides,
   * and either the first refresh token of the code's family is inserted, or on
   * reuse that family is revoked. The refresh token commits with the code's
   * use, so a concurrent second use always finds the family to revoke.
   */
  redeem(codeHash: Buffer, presented: CodePresentation, nowMs: number, refresh: NewRefreshToken): Promise<RedeemResult> {
    return withTransaction(this.pool, 'BEGIN', async (client) => {
      const { rows } = await client.query<DbCode>(
        `SELECT client_id, redirect_uri, code_challenge, user_id, family_id, expires_at, used_at
         FROM identity.authorization_codes WHERE code_hash = $1 FOR UPDATE`,
        [codeHash],
      );
      const record = rows[0] ? toRecord(rows[0]) : undefined;
      const decision = decideCodeRedemption(record, presented, nowMs);
      if (!record) return { decision: decision as Exclude<CodeDecision, { action: 'issue' }> };
      if (decision.action === 'revoke_family') {
        await client.query('UPDATE identity.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL', [record.familyId]);
        return { decision };
      }
      await client.query('UPDATE identity.authorization_codes SET used_at = now() WHERE code_hash = $1', [codeHash]);
      if (decision.action !== 'issue') return { decision };
      await client.query(
        `INSERT INTO identity.refresh_tokens (token_hash, family_id, user_id, client_id, expires_at) VALUES ($1, $2, $3, $4, $5)`,
        [refresh.tokenHash, record.familyId, record.userId, record.clientId, new Date(refresh.expiresAtMs)],
      );
      return { decision, userId: record.userId, clientId: record.clientId };
    });
  }

  /** Deletes codes expired for an hour (bounded per call); a reuse after that is an unknown code. */
  async purgeExpired(nowMs: number, batchMax = 1_000): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM identity.authorization_codes WHERE code_hash IN (
         SELECT code_hash FROM identity.authorization_codes WHERE expires_at < $1 LIMIT $2)`,
      [new Date(nowMs - 3_600_000), batchMax],
    );
    return result.rowCount ?? 0;
  }
}
