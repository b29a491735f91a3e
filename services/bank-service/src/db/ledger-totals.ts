// SQL of GetLedgerTotals (ADR 0021): per customer account, the net and count of
// its posted entries up to an instant, one page of accounts by id. Opening
// entries (the seed's starting balances) have no events, so they are left out;
// settlement accounts have none either (a deposit's or refund's event is keyed
// by the customer account only), so only customer accounts are listed.
import type { Queryable } from './ledger-writes.js';

export interface LedgerTotalsRow {
  accountId: string;
  currency: string;
  netMinor: bigint;
  entryCount: bigint;
}

export async function selectLedgerTotals(db: Queryable, afterAccountId: string | null, limit: number, upTo: Date): Promise<LedgerTotalsRow[]> {
  const { rows } = await db.query<{ account_id: string; currency: string; net_minor: bigint | null; entry_count: bigint | null }>({
    name: 'bank_ledger_totals_page',
    // One lateral aggregate per account on (account_id, created_at, id): each walks only its account's entries.
    text: `SELECT a.id::text AS account_id, a.currency, t.net_minor, t.entry_count
             FROM (SELECT id, currency FROM bank.accounts
                    WHERE kind = 'customer' AND ($1::uuid IS NULL OR id > $1::uuid)
                    ORDER BY id LIMIT $2) AS a
             CROSS JOIN LATERAL (
               SELECT SUM(e.amount_minor)::bigint AS net_minor, count(*) AS entry_count
                 FROM bank.ledger_entries e
                WHERE e.account_id = a.id AND e.created_at <= $3 AND e.entry_type <> 'opening') AS t
            ORDER BY a.id`,
    values: [afterAccountId, limit, upTo],
  });
  return rows.map((r) => ({ accountId: r.account_id, currency: r.currency, netMinor: r.net_minor ?? 0n, entryCount: r.entry_count ?? 0n }));
}
