// SQL of account limits: read (optionally under the row lock) and write.
import type { AccountLimitsState } from '../domain/limits.js';
import type { AccountState } from '../domain/ledger.js';
import { accountsFrom, accountStateColumns, type AccountRow, type Queryable } from './ledger-writes.js';

export interface AccountLimitsRecord extends AccountState, AccountLimitsState {
  ownerId: string | null;
}

interface LimitsRow extends AccountRow {
  owner_id: string | null;
  daily_limit_max_minor: bigint | null;
  monthly_limit_max_minor: bigint | null;
}

const LIMITS_COLUMNS = `${accountStateColumns('a')}, a.owner_id, a.daily_limit_max_minor, a.monthly_limit_max_minor`;

function recordFromRow(row: LimitsRow | undefined): AccountLimitsRecord | undefined {
  if (!row) return undefined;
  const [state] = accountsFrom([row]);
  return { ...state!, ownerId: row.owner_id, dailyLimitMaxMinor: row.daily_limit_max_minor, monthlyLimitMaxMinor: row.monthly_limit_max_minor };
}

/** A customer account's limits and spending state; `lock`: under FOR UPDATE (the caller is in a transaction). */
export async function findAccountLimits(db: Queryable, accountId: string, options: { lock: boolean }): Promise<AccountLimitsRecord | undefined> {
  const { rows } = await db.query<LimitsRow>({
    name: options.lock ? 'bank_account_limits_lock' : 'bank_account_limits',
    text: `SELECT ${LIMITS_COLUMNS} FROM bank.accounts a WHERE a.id = $1 AND a.kind = 'customer'${options.lock ? ' FOR UPDATE' : ''}`,
    values: [accountId],
  });
  return recordFromRow(rows[0]);
}

/**
 * Writes the limits of a locked account (version bumped: a transfer batch
 * that read the row before checks it). The row's check constraint refuses an
 * overdraft below what the account owes (accounts_available_within_overdraft).
 */
export async function writeAccountLimits(db: Queryable, accountId: string, limits: AccountLimitsState, updatedAt: Date): Promise<AccountLimitsRecord> {
  const { rows } = await db.query<LimitsRow>({
    name: 'bank_account_limits_write',
    text: `
UPDATE bank.accounts AS a
   SET overdraft_limit_minor = $2, daily_limit_minor = $3, monthly_limit_minor = $4,
       daily_limit_max_minor = $5, monthly_limit_max_minor = $6, time_zone = $7,
       version = a.version + 1, updated_at = $8
 WHERE a.id = $1 AND a.kind = 'customer'
RETURNING ${LIMITS_COLUMNS}`,
    values: [
      accountId,
      limits.overdraftLimitMinor.toString(),
      limits.dailyLimitMinor?.toString() ?? null,
      limits.monthlyLimitMinor?.toString() ?? null,
      limits.dailyLimitMaxMinor?.toString() ?? null,
      limits.monthlyLimitMaxMinor?.toString() ?? null,
      limits.timeZone,
      updatedAt,
    ],
  });
  return recordFromRow(rows[0])!;
}
