// SQL of VerifyLedger: a page of accounts and their entries in id order, read
// in keyset chunks (never a whole account in memory). The caller runs them in
// one REPEATABLE READ READ ONLY transaction, so balances and entries are one
// consistent snapshot.
import type { ChainEntry } from '../domain/ledger-chain.js';
import type { Queryable } from './ledger-writes.js';

export const VERIFY_BEGIN_SQL = 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY';

export interface VerifiedAccount {
  id: string;
  balanceMinor: bigint;
}

/** Accounts with id > after (all when null), or the one named, in id order. */
export async function listAccountsToVerify(
  db: Queryable,
  params: { accountId: string | null; afterAccountId: string | null; limit: number },
): Promise<VerifiedAccount[]> {
  const { rows } = await db.query<{ id: string; balance_minor: bigint }>({
    name: 'bank_verify_accounts',
    text: `SELECT id, balance_minor FROM bank.accounts
            WHERE ($1::uuid IS NULL OR id = $1) AND ($2::uuid IS NULL OR id > $2)
            ORDER BY id LIMIT $3`,
    values: [params.accountId, params.afterAccountId, params.limit],
  });
  return rows.map((r) => ({ id: r.id, balanceMinor: r.balance_minor }));
}

interface EntryRow {
  id: bigint;
  account_id: string;
  amount_minor: bigint;
  balance_after_minor: bigint;
  entry_type: string;
  transfer_id: string | null;
  deposit_id: string | null;
  reversal_id: string | null;
  refund_id: string | null;
  created_at_us: bigint;
  prev_hash: Buffer | null;
  entry_hash: Buffer | null;
}

/** Entries of one account with id > afterEntryId, oldest first, at most `limit`. */
export async function readEntryChunk(db: Queryable, params: { accountId: string; afterEntryId: bigint; limit: number }): Promise<ChainEntry[]> {
  const { rows } = await db.query<EntryRow>({
    name: 'bank_verify_entries',
    text: `SELECT id, account_id, amount_minor, balance_after_minor, entry_type, transfer_id, deposit_id, reversal_id, refund_id,
                  (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us, prev_hash, entry_hash
             FROM bank.ledger_entries
            WHERE account_id = $1 AND id > $2
            ORDER BY id LIMIT $3`,
    values: [params.accountId, params.afterEntryId.toString(), params.limit],
  });
  return rows.map((r) => ({
    id: r.id,
    accountId: r.account_id,
    amountMinor: r.amount_minor,
    balanceAfterMinor: r.balance_after_minor,
    entryType: r.entry_type,
    transferId: r.transfer_id,
    depositId: r.deposit_id,
    reversalId: r.reversal_id,
    refundId: r.refund_id,
    createdAtMicros: r.created_at_us,
    prevHash: r.prev_hash,
    entryHash: r.entry_hash,
  }));
}
