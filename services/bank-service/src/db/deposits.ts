// SQL of deposits: the context of one deposit (stored outcome, locked
// accounts), the lookup that may void a reference, and the binding of a
// business failure to its reference.
import type { BoundFailureReason } from '../domain/errors.js';
import type { AccountState, DepositRecord, StoredFailure } from '../domain/ledger.js';
import { accountsFrom, accountStateColumns, type AccountRow, type Queryable } from './ledger-writes.js';

const DEPOSIT_COLUMNS = `
  d.id AS d_id, d.account_id AS d_account, d.amount_minor AS d_amount_minor, d.currency::text AS d_currency,
  d.deposit_reference AS d_reference, d.top_up_id AS d_top_up_id, d.card_last4::text AS d_card_last4,
  d.card_brand AS d_card_brand, d.request_hash AS d_hash, d.created_at AS d_created_at, d.initiated_by AS d_initiated_by`;

// The earlier deposit or voided reference, if any; only if there is neither,
// the customer and settlement rows locked in id order. The caller holds the
// reference's advisory lock, so the lookup cannot miss a deposit in flight.
const DEPOSIT_CONTEXT_SQL = `
WITH existing AS (
  SELECT * FROM bank.deposits WHERE deposit_reference = $1
), voided AS (
  SELECT reason, request_hash, metadata FROM bank.voided_deposit_references WHERE deposit_reference = $1
), locked AS MATERIALIZED (
  SELECT ${accountStateColumns('a')}
    FROM bank.accounts a
   WHERE a.id = ANY ($2::uuid[]) AND NOT EXISTS (SELECT 1 FROM existing) AND NOT EXISTS (SELECT 1 FROM voided)
   ORDER BY a.id
     FOR UPDATE
)
SELECT ${DEPOSIT_COLUMNS},
       v.reason AS v_reason, v.request_hash AS v_hash, v.metadata AS v_metadata, l.*
  FROM (SELECT) AS one
  LEFT JOIN existing d ON true
  LEFT JOIN voided v ON true
  LEFT JOIN locked l ON true
 ORDER BY l.a_id`;

interface DepositRow {
  d_id: string | null;
  d_account: string;
  d_amount_minor: bigint;
  d_currency: string;
  d_reference: string;
  d_top_up_id: string;
  d_card_last4: string;
  d_card_brand: string;
  d_hash: string;
  d_created_at: Date;
  d_initiated_by: string | null;
}

interface VoidedRow {
  v_reason: 'VOIDED' | BoundFailureReason | null;
  v_hash: string | null;
  v_metadata: Record<string, string> | null;
}

function depositFromRow(row: DepositRow | undefined): DepositRecord | undefined {
  if (!row || row.d_id === null) return undefined;
  return {
    id: row.d_id,
    accountId: row.d_account,
    amountMinor: row.d_amount_minor,
    currency: row.d_currency,
    depositReference: row.d_reference,
    topUpId: row.d_top_up_id,
    cardLast4: row.d_card_last4,
    cardBrand: row.d_card_brand,
    requestHash: row.d_hash,
    createdAt: row.d_created_at,
    initiatedBy: row.d_initiated_by,
  };
}

/** A voided reference: by GetDeposit (no failure) or bound to a DepositMoney business failure. */
export interface VoidedReference {
  failure: StoredFailure | undefined;
}

function voidedFromRow(row: VoidedRow | undefined): VoidedReference | undefined {
  if (!row || row.v_reason === null) return undefined;
  if (row.v_reason === 'VOIDED' || row.v_hash === null) return { failure: undefined };
  return { failure: { reason: row.v_reason, requestHash: row.v_hash, metadata: row.v_metadata ?? {} } };
}

export interface DepositContext {
  existing: DepositRecord | undefined;
  voided: VoidedReference | undefined;
  /** Locked account rows (only when there is no stored outcome), in id order. */
  accounts: AccountState[];
}

export async function lockDepositContext(db: Queryable, params: { depositReference: string; accountIds: string[] }): Promise<DepositContext> {
  const { rows } = await db.query<DepositRow & VoidedRow & AccountRow>({
    name: 'bank_deposit_context',
    text: DEPOSIT_CONTEXT_SQL,
    values: [params.depositReference, params.accountIds],
  });
  return { existing: depositFromRow(rows[0]), voided: voidedFromRow(rows[0]), accounts: accountsFrom(rows) };
}

// GetDeposit in one statement: the deposit, or the voided reference, or (with
// void_if_absent and neither) a new VOIDED row. Under the reference's lock.
const DEPOSIT_LOOKUP_SQL = `
WITH existing AS (
  SELECT * FROM bank.deposits WHERE deposit_reference = $1
), voided AS (
  SELECT reason, request_hash, metadata FROM bank.voided_deposit_references WHERE deposit_reference = $1
), inserted AS (
  INSERT INTO bank.voided_deposit_references (deposit_reference, reason, created_at)
  SELECT $1, 'VOIDED', $3
   WHERE $2::boolean AND NOT EXISTS (SELECT 1 FROM existing) AND NOT EXISTS (SELECT 1 FROM voided)
  RETURNING reason, request_hash, metadata
)
SELECT ${DEPOSIT_COLUMNS},
       coalesce(v.reason, i.reason) AS v_reason, coalesce(v.request_hash, i.request_hash) AS v_hash,
       coalesce(v.metadata, i.metadata) AS v_metadata
  FROM (SELECT) AS one
  LEFT JOIN existing d ON true
  LEFT JOIN voided v ON true
  LEFT JOIN inserted i ON true`;

export async function lookUpDeposit(
  db: Queryable,
  params: { depositReference: string; voidIfAbsent: boolean; at: Date },
): Promise<{ deposit: DepositRecord | undefined; voided: VoidedReference | undefined }> {
  const { rows } = await db.query<DepositRow & VoidedRow>({
    name: 'bank_deposit_lookup',
    text: DEPOSIT_LOOKUP_SQL,
    values: [params.depositReference, params.voidIfAbsent, params.at],
  });
  return { deposit: depositFromRow(rows[0]), voided: voidedFromRow(rows[0]) };
}

/** Binds a DepositMoney business failure to its reference: replayed on retry, VOIDED for GetDeposit. */
export async function writeDepositFailure(
  db: Queryable,
  params: { depositReference: string; requestHash: string; reason: BoundFailureReason; metadata: Record<string, string>; at: Date },
): Promise<void> {
  await db.query({
    name: 'bank_deposit_failure_write',
    text: `INSERT INTO bank.voided_deposit_references (deposit_reference, reason, request_hash, metadata, created_at)
           VALUES ($1, $2, $3, $4, $5)`,
    values: [params.depositReference, params.reason, params.requestHash, JSON.stringify(params.metadata), params.at],
  });
}
