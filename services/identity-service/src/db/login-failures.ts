import type pg from 'pg';
import { withTransaction } from '@wallet/platform/db';
import type { FailureRecord } from '../domain/lockout.js';

interface DbFailure {
  failures: number;
  first_failure_at: Date;
  locked_until: Date | null;
}

const toRecord = (row: DbFailure): FailureRecord => ({
  failures: row.failures,
  firstFailureAtMs: row.first_failure_at.getTime(),
  lockedUntilMs: row.locked_until?.getTime() ?? null,
});

/** One row per username with recent failed logins: shared by every replica. */
export class PgLoginFailureStore {
  constructor(private readonly pool: pg.Pool) {}

  async find(username: string): Promise<FailureRecord | undefined> {
    const { rows } = await this.pool.query<DbFailure>(
      'SELECT failures, first_failure_at, locked_until FROM identity.login_failures WHERE username = $1',
      [username],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  /** Reads the row under a lock, lets `next` compute the new record, writes it; concurrent failures serialise. */
  async update(username: string, next: (current: FailureRecord | undefined) => FailureRecord): Promise<FailureRecord> {
    return withTransaction(this.pool, 'BEGIN', async (client) => {
      const { rows } = await client.query<DbFailure>(
        'SELECT failures, first_failure_at, locked_until FROM identity.login_failures WHERE username = $1 FOR UPDATE',
        [username],
      );
      const record = next(rows[0] ? toRecord(rows[0]) : undefined);
      await client.query(
        `INSERT INTO identity.login_failures (username, failures, first_failure_at, locked_until)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (username) DO UPDATE SET failures = EXCLUDED.failures,
           first_failure_at = EXCLUDED.first_failure_at, locked_until = EXCLUDED.locked_until`,
        [username, record.failures, new Date(record.firstFailureAtMs), record.lockedUntilMs === null ? null : new Date(record.lockedUntilMs)],
      );
      return record;
    });
  }

  /** A successful login ends the run of failures. */
  async clear(username: string): Promise<void> {
    await this.pool.query('DELETE FROM identity.login_failures WHERE username = $1', [username]);
  }

  /** Deletes records older than the window whose lock is over (bounded per call). */
  async purge(nowMs: number, failureWindowMs: number, batchMax = 1_000): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM identity.login_failures WHERE username IN (
         SELECT username FROM identity.login_failures
         WHERE first_failure_at < $1 AND (locked_until IS NULL OR locked_until <= $2) LIMIT $3)`,
      [new Date(nowMs - failureWindowMs), new Date(nowMs), batchMax],
    );
    return result.rowCount ?? 0;
  }
}
