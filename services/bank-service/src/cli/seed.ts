// Bulk creation of funded customer accounts (load tests). Each batch is one
// transaction: the settlement row is locked once, the accounts and their
// paired opening entries are inserted by one set-based statement. Owners, if
// given, are assigned round-robin (account i of the run gets owner i mod n),
// so a load test can log in as them.
import type pg from 'pg';
import { SETTLEMENT_ACCOUNT_ID } from '../domain/ids.js';

export const SEED_BATCH_SIZE_MAX = 10_000;
export const SEED_COUNT_MAX = 10_000_000;
export const SEED_OWNERS_MAX = 100_000;

const SEED_BATCH_SQL = `
WITH ids AS (
  SELECT gen_random_uuid() AS id, n,
         CASE WHEN cardinality($6::text[]) > 0 THEN ($6::text[])[(($7::bigint + n - 1) % cardinality($6::text[])) + 1] END AS owner_id
    FROM generate_series(1, $1::int) AS n
), acc AS (
  INSERT INTO bank.accounts (id, kind, currency, balance_minor, version, owner_id)
  SELECT id, 'customer', $3, $2::bigint, CASE WHEN $2::bigint > 0 THEN 1 ELSE 0 END, owner_id FROM ids
), le AS (
  INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type)
  SELECT account_id, amount_minor, balance_after_minor, 'opening'
    FROM (
      SELECT $4::uuid AS account_id, -$2::bigint AS amount_minor, $5::bigint - $2::bigint * n AS balance_after_minor, 2 * n - 1 AS ord FROM ids
      UNION ALL
      SELECT id, $2::bigint, $2::bigint, 2 * n FROM ids
    ) AS entries
   WHERE $2::bigint > 0
   ORDER BY ord
), settle AS (
  UPDATE bank.accounts
     SET balance_minor = balance_minor - $2::bigint * $1::int, version = version + 1, updated_at = now()
   WHERE id = $4::uuid AND $2::bigint > 0
)
SELECT id, owner_id FROM ids ORDER BY n`;

export interface SeedOptions {
  count: number;
  balanceMinor: bigint;
  currency: string;
  batchSize?: number;
  /** Owners (subjects) assigned round-robin; none: accounts without an owner (only admin/support reach them). */
  ownerIds?: readonly string[];
  /** Each committed batch: the ids and, in the same order, their owners. */
  onBatch?: (ids: string[], ownerIds: Array<string | null>) => void;
}

/** Creates `count` customer accounts with `balanceMinor` each, funded from the settlement account. */
export async function seedAccounts(pool: pg.Pool, options: SeedOptions): Promise<number> {
  if (!Number.isInteger(options.count) || options.count < 1 || options.count > SEED_COUNT_MAX) {
    throw new RangeError(`count must be 1-${SEED_COUNT_MAX}`);
  }
  if (options.balanceMinor < 0n) throw new RangeError('balance must not be negative');
  const ownerIds = options.ownerIds ?? [];
  if (ownerIds.length > SEED_OWNERS_MAX) throw new RangeError(`at most ${SEED_OWNERS_MAX} owners`);
  for (const ownerId of ownerIds) {
    // The column's CHECK, said earlier and more clearly.
    if (ownerId.length === 0 || [...ownerId].length > 255 || ownerId.includes('\0')) throw new RangeError('owner ids must be 1-255 characters without NUL');
  }
  const batchSize = Math.min(options.batchSize ?? SEED_BATCH_SIZE_MAX, SEED_BATCH_SIZE_MAX);
  let created = 0;
  while (created < options.count) {
    const size = Math.min(batchSize, options.count - created);
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const settlement = await client.query<{ balance_minor: bigint; currency: string }>(
        'SELECT balance_minor, currency FROM bank.accounts WHERE id = $1 FOR UPDATE',
        [SETTLEMENT_ACCOUNT_ID],
      );
      const row = settlement.rows[0];
      if (!row) throw new Error('settlement account missing: run the migrations first');
      if (row.currency !== options.currency) throw new Error(`settlement account holds ${row.currency}, not ${options.currency}`);
      const { rows } = await client.query<{ id: string; owner_id: string | null }>(SEED_BATCH_SQL, [
        size,
        options.balanceMinor.toString(),
        options.currency,
        SETTLEMENT_ACCOUNT_ID,
        row.balance_minor.toString(),
        ownerIds,
        created,
      ]);
      await client.query('COMMIT');
      options.onBatch?.(
        rows.map((r) => r.id),
        rows.map((r) => r.owner_id),
      );
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      client.release();
    }
    created += size;
  }
  return created;
}
