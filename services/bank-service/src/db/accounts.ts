// SQL of accounts: balance reads, owners, opening and listing.
import type { AccountKind } from '../domain/ledger.js';
import type { Queryable } from './ledger-writes.js';

export interface AccountBalance {
  id: string;
  kind: AccountKind;
  /** null: no owner (the settlement account, accounts opened before owners existed). */
  ownerId: string | null;
  currency: string;
  /** Posted: the sum of the account's ledger entries. */
  balanceMinor: bigint;
  /** Held by this account's pending holds (out) and promised to it by others' (in). */
  pendingOutMinor: bigint;
  pendingInMinor: bigint;
  overdraftLimitMinor: bigint;
  createdAt: Date;
  updatedAt: Date;
}

interface AccountRow {
  id: string;
  kind: AccountKind;
  owner_id: string | null;
  currency: string;
  balance_minor: bigint;
  pending_out_minor: bigint;
  pending_in_minor: bigint;
  overdraft_limit_minor: bigint;
  created_at: Date;
  updated_at: Date;
}

const ACCOUNT_COLUMNS = `a.id, a.kind, a.owner_id, a.currency::text AS currency, a.balance_minor, a.pending_out_minor,
       a.pending_in_minor, a.overdraft_limit_minor, a.created_at, a.updated_at`;

function accountFromRow(row: AccountRow): AccountBalance {
  return {
    id: row.id,
    kind: row.kind,
    ownerId: row.owner_id,
    currency: row.currency,
    balanceMinor: row.balance_minor,
    pendingOutMinor: row.pending_out_minor,
    pendingInMinor: row.pending_in_minor,
    overdraftLimitMinor: row.overdraft_limit_minor,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function findAccountBalance(db: Queryable, accountId: string): Promise<AccountBalance | undefined> {
  const { rows } = await db.query<AccountRow>({
    name: 'bank_account_balance',
    text: `SELECT ${ACCOUNT_COLUMNS} FROM bank.accounts a WHERE a.id = $1`,
    values: [accountId],
  });
  return rows[0] && accountFromRow(rows[0]);
}

/** Owners of the given customer accounts (absent ids: no such customer account). */
export async function findAccountOwners(db: Queryable, accountIds: readonly string[]): Promise<Map<string, string | null>> {
  const { rows } = await db.query<{ id: string; owner_id: string | null }>({
    name: 'bank_account_owners',
    text: `SELECT id, owner_id FROM bank.accounts WHERE id = ANY ($1::uuid[]) AND kind = 'customer'`,
    values: [accountIds],
  });
  return new Map(rows.map((row) => [row.id, row.owner_id]));
}

/** The account an earlier CreateAccount with this (owner, key) opened, with that request's hash. */
export async function findAccountOpening(
  db: Queryable,
  ownerId: string,
  idempotencyKey: string,
): Promise<{ account: AccountBalance; requestHash: string } | undefined> {
  const { rows } = await db.query<AccountRow & { request_hash: string }>({
    name: 'bank_account_opening',
    text: `SELECT ${ACCOUNT_COLUMNS}, o.request_hash
             FROM bank.account_openings o JOIN bank.accounts a ON a.id = o.account_id
            WHERE o.owner_id = $1 AND o.idempotency_key = $2`,
    values: [ownerId, idempotencyKey],
  });
  const row = rows[0];
  return row && { account: accountFromRow(row), requestHash: row.request_hash };
}

/** Opens a customer account (balance 0) and binds (owner, key) to it: one statement. */
export async function insertAccountOpening(
  db: Queryable,
  params: { accountId: string; ownerId: string; currency: string; idempotencyKey: string; requestHash: string; at: Date },
): Promise<AccountBalance> {
  const { rows } = await db.query<AccountRow>({
    name: 'bank_account_open',
    text: `
WITH a AS (
  INSERT INTO bank.accounts (id, kind, owner_id, currency, balance_minor, version, created_at, updated_at)
  VALUES ($1, 'customer', $2, $3, 0, 0, $6, $6)
  RETURNING *
), o AS (
  INSERT INTO bank.account_openings (owner_id, idempotency_key, request_hash, account_id, created_at)
  VALUES ($2, $4, $5, $1, $6)
)
SELECT ${ACCOUNT_COLUMNS} FROM a`,
    values: [params.accountId, params.ownerId, params.currency, params.idempotencyKey, params.requestHash, params.at],
  });
  return accountFromRow(rows[0]!);
}

/** One owner's customer accounts, oldest first, at most `limit`. */
export async function listOwnerAccounts(db: Queryable, ownerId: string, limit: number): Promise<AccountBalance[]> {
  const { rows } = await db.query<AccountRow>({
    name: 'bank_owner_accounts',
    text: `SELECT ${ACCOUNT_COLUMNS} FROM bank.accounts a
            WHERE a.owner_id = $1 AND a.kind = 'customer'
            ORDER BY a.created_at, a.id
            LIMIT $2`,
    values: [ownerId, limit],
  });
  return rows.map(accountFromRow);
}
