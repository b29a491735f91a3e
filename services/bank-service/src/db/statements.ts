// SQL of balances in time and statements (ADR 0020). Every read walks one
// account's entries through ledger_entries_account_created_at_id
// ((account_id, created_at, id) INCLUDE (amount_minor)): the sums are
// index-only scans, a chunk is one keyset step of at most `limit` rows.
import type { StatementEntryRecord } from '../domain/statements.js';
import type { Queryable } from './ledger-writes.js';

/** Sum and count of the account's entries created at or before `at` (inclusive) or before it (exclusive). */
export async function sumEntriesUpTo(
  db: Queryable,
  accountId: string,
  at: Date,
  bound: 'inclusive' | 'exclusive',
): Promise<{ sumMinor: bigint; lastEntryId: bigint }> {
  const { rows } = await db.query<{ sum_minor: bigint | null; last_entry_id: bigint | null }>({
    name: bound === 'inclusive' ? 'bank_balance_at_inclusive' : 'bank_balance_at_exclusive',
    // ::bigint: SUM(bigint) is numeric; the sum of one account's entries is its balance, a bigint.
    text: `SELECT SUM(amount_minor)::bigint AS sum_minor, MAX(id) AS last_entry_id
             FROM bank.ledger_entries
            WHERE account_id = $1 AND created_at ${bound === 'inclusive' ? '<=' : '<'} $2`,
    values: [accountId, at],
  });
  return { sumMinor: rows[0]?.sum_minor ?? 0n, lastEntryId: rows[0]?.last_entry_id ?? 0n };
}

/** Whether [from, to) holds more than `entriesMax` entries: bounded work (reads at most entriesMax + 1 index rows). */
export async function rangeExceeds(db: Queryable, accountId: string, from: Date, to: Date, entriesMax: number): Promise<boolean> {
  const { rows } = await db.query<{ n: bigint }>({
    name: 'bank_statement_range_count',
    text: `SELECT count(*) AS n FROM (
             SELECT 1 FROM bank.ledger_entries
              WHERE account_id = $1 AND created_at >= $2 AND created_at < $3
              LIMIT $4) AS bounded`,
    values: [accountId, from, to, entriesMax + 1],
  });
  return (rows[0]?.n ?? 0n) > BigInt(entriesMax);
}

/** Where the previous chunk stopped: created_at as PostgreSQL's own text (microseconds kept), and the id. */
export interface StatementCursor {
  createdAtText: string;
  entryId: bigint;
}

interface EntryRow {
  id: bigint;
  created_at: Date;
  created_at_text: string;
  entry_type: string;
  amount_minor: bigint;
  reference_id: string | null;
  counterparty_account_id: string | null;
  description: string | null;
}

// The keyset: (created_at, id) after the cursor, before `to`. The counterparty
// and description come from the transfer or deposit; reversal and refund
// entries carry their record's id (their tables belong to those features).
const CHUNK_SQL = `
SELECT e.id, e.created_at, e.created_at::text AS created_at_text, e.entry_type, e.amount_minor,
       COALESCE(e.transfer_id, e.deposit_id, e.reversal_id, e.refund_id)::text AS reference_id,
       CASE WHEN t.id IS NULL THEN NULL
            WHEN t.sender_account_id = e.account_id THEN t.recipient_account_id
            ELSE t.sender_account_id END::text AS counterparty_account_id,
       COALESCE(t.description, CASE WHEN d.id IS NULL THEN NULL ELSE 'Card top-up ' || d.card_last4 END) AS description
  FROM bank.ledger_entries e
  LEFT JOIN bank.transfers t ON t.id = e.transfer_id
  LEFT JOIN bank.deposits d ON d.id = e.deposit_id
 WHERE e.account_id = $1
   AND (e.created_at, e.id) > ($2::timestamptz, $3::bigint)
   AND e.created_at < $4
 ORDER BY e.created_at, e.id
 LIMIT $5`;

/** The next at most `limit` entries of [cursor, to) in (created_at, id) order. */
export async function readStatementChunk(
  db: Queryable,
  accountId: string,
  cursor: StatementCursor,
  to: Date,
  limit: number,
): Promise<{ entries: StatementEntryRecord[]; cursor: StatementCursor | undefined }> {
  const { rows } = await db.query<EntryRow>({
    name: 'bank_statement_chunk',
    text: CHUNK_SQL,
    values: [accountId, cursor.createdAtText, cursor.entryId.toString(), to, limit],
  });
  const entries = rows.map((row) => ({
    entryId: row.id,
    createdAt: row.created_at,
    entryType: row.entry_type,
    amountMinor: row.amount_minor,
    referenceId: row.reference_id ?? '',
    counterpartyAccountId: row.counterparty_account_id ?? '',
    description: row.description ?? '',
  }));
  const last = rows.at(-1);
  return { entries, cursor: last && { createdAtText: last.created_at_text, entryId: last.id } };
}

/** The cursor before the first entry at or after `from` (ids are positive). */
export function cursorBefore(from: Date): StatementCursor {
  return { createdAtText: from.toISOString(), entryId: 0n };
}
