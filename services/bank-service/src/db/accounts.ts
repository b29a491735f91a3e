// SQL of account reads.
import type { AccountKind } from '../domain/ledger.js';
import type { Queryable } from './ledger-writes.js';

export interface AccountBalance {
  id: string;
  kind: AccountKind;
  currency: string;
  balanceMinor: bigint;
  updatedAt: Date;
}

export async function findAccountBalance(db: Queryable, accountId: string): Promise<AccountBalance | undefined> {
  const { rows } = await db.query<{ id: string; kind: AccountKind; currency: string; balance_minor: bigint; updated_at: Date }>({
    name: 'bank_account_balance',
    text: 'SELECT id, kind, currency, balance_minor, updated_at FROM bank.accounts WHERE id = $1',
    values: [accountId],
  });
  const row = rows[0];
  return row ? { id: row.id, kind: row.kind, currency: row.currency, balanceMinor: row.balance_minor, updatedAt: row.updated_at } : undefined;
}
