import type pg from 'pg';
import type { SessionRecord } from '../domain/session.js';

export interface NewSession {
  sessionHash: Buffer;
  userId: string;
  nowMs: number;
  expiresAtMs: number;
}

interface DbSession {
  user_id: string;
  credentials_fingerprint: Buffer;
  current_fingerprint: Buffer | null;
  last_used_at: Date;
  expires_at: Date;
}

// The fingerprint is SHA-256 of the user's password hash, computed by PostgreSQL on both sides, so a
// password change (whatever code path writes password_hash) ends the sessions it had.
const FINGERPRINT = "sha256(convert_to(u.password_hash, 'UTF8'))";

export class PgSessionStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Inserts a session, then keeps only the user's newest perUserMax (a bound on rows per user). */
  async insert(session: NewSession, perUserMax: number): Promise<boolean> {
    const now = new Date(session.nowMs);
    const inserted = await this.pool.query(
      `INSERT INTO identity.sessions (session_hash, user_id, credentials_fingerprint, created_at, last_used_at, expires_at)
       SELECT $1, u.user_id, ${FINGERPRINT}, $3, $3, $4 FROM identity.users u WHERE u.user_id = $2`,
      [session.sessionHash, session.userId, now, new Date(session.expiresAtMs)],
    );
    await this.pool.query(
      `DELETE FROM identity.sessions WHERE user_id = $1 AND session_hash NOT IN (
         SELECT session_hash FROM identity.sessions WHERE user_id = $1 ORDER BY created_at DESC, session_hash LIMIT $2)`,
      [session.userId, perUserMax],
    );
    return inserted.rowCount === 1;
  }

  async find(sessionHash: Buffer): Promise<SessionRecord | undefined> {
    const { rows } = await this.pool.query<DbSession>(
      `SELECT s.user_id, s.credentials_fingerprint, ${FINGERPRINT} AS current_fingerprint, s.last_used_at, s.expires_at
       FROM identity.sessions s LEFT JOIN identity.users u ON u.user_id = s.user_id WHERE s.session_hash = $1`,
      [sessionHash],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      userId: row.user_id,
      credentialsFingerprint: row.credentials_fingerprint,
      currentFingerprint: row.current_fingerprint ?? undefined,
      lastUsedAtMs: row.last_used_at.getTime(),
      expiresAtMs: row.expires_at.getTime(),
    };
  }

  async touch(sessionHash: Buffer, nowMs: number): Promise<void> {
    await this.pool.query('UPDATE identity.sessions SET last_used_at = GREATEST(last_used_at, $2) WHERE session_hash = $1', [sessionHash, new Date(nowMs)]);
  }

  async delete(sessionHash: Buffer): Promise<boolean> {
    const result = await this.pool.query('DELETE FROM identity.sessions WHERE session_hash = $1', [sessionHash]);
    return result.rowCount === 1;
  }

  /** Ends every session of a user (disabling a user or changing a password calls this). */
  async deleteAllOf(userId: string): Promise<number> {
    const result = await this.pool.query('DELETE FROM identity.sessions WHERE user_id = $1', [userId]);
    return result.rowCount ?? 0;
  }

  /** Deletes sessions past their absolute or idle expiry (bounded per call). */
  async purgeExpired(nowMs: number, idleTtlMs: number, batchMax = 1_000): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM identity.sessions WHERE session_hash IN (
         SELECT session_hash FROM identity.sessions WHERE expires_at <= $1 OR last_used_at <= $2 LIMIT $3)`,
      [new Date(nowMs), new Date(nowMs - idleTtlMs), batchMax],
    );
    return result.rowCount ?? 0;
  }
}
