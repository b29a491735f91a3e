// SQL of reversals: the transfer's parties (no lock, for authorization), the
// original transfer locked FOR UPDATE with the reversal already bound to the
// key, both account rows locked in id order, and the write of one reversal.
import type { ReversalAccountState, ReversalFailureRecord, ReversalPlan, ReversalRecord, TransferToReverse } from '../domain/reversals.js';
import { InvariantViolation } from '../domain/ledger.js';
import type { Queryable } from './ledger-writes.js';

/** Sender and recipient of a transfer (they never change), or undefined. */
export async function findTransferParties(db: Queryable, transferId: string): Promise<{ senderAccountId: string; recipientAccountId: string } | undefined> {
  const { rows } = await db.query<{ sender_account_id: string; recipient_account_id: string }>({
    name: 'bank_reversal_parties',
    text: 'SELECT sender_account_id, recipient_account_id FROM bank.transfers WHERE id = $1',
    values: [transferId],
  });
  const row = rows[0];
  return row ? { senderAccountId: row.sender_account_id, recipientAccountId: row.recipient_account_id } : undefined;
}

const REVERSAL_COLUMNS = `r.id AS r_id, r.transfer_id AS r_transfer_id, r.from_account_id AS r_from, r.to_account_id AS r_to,
  r.amount_minor AS r_amount_minor, r.currency::text AS r_currency, r.reason AS r_reason, r.forced AS r_forced,
  r.forced_debt_minor AS r_forced_debt_minor, r.remaining_after_minor AS r_remaining_after_minor,
  r.idempotency_key AS r_key, r.request_hash AS r_hash, r.initiated_by AS r_initiated_by, r.created_at AS r_created_at`;

// Locks the transfer row: every reversal of one transfer runs one at a time,
// so reversed_minor read here is the truth until COMMIT.
const LOCK_TRANSFER_SQL = `
WITH t AS MATERIALIZED (
  SELECT id, sender_account_id, recipient_account_id, amount_minor, currency::text AS currency, reversed_minor
    FROM bank.transfers WHERE id = $1 FOR UPDATE
)
SELECT t.id AS t_id, t.sender_account_id AS t_sender, t.recipient_account_id AS t_recipient, t.amount_minor AS t_amount_minor,
       t.currency AS t_currency, t.reversed_minor AS t_reversed_minor, ${REVERSAL_COLUMNS}
  FROM t LEFT JOIN bank.reversals r ON r.transfer_id = t.id AND r.idempotency_key = $2`;

interface ReversalRow {
  r_id: string | null;
  r_transfer_id: string;
  r_from: string;
  r_to: string;
  r_amount_minor: bigint;
  r_currency: string;
  r_reason: string;
  r_forced: boolean;
  r_forced_debt_minor: bigint;
  r_remaining_after_minor: bigint;
  r_key: string;
  r_hash: string;
  r_initiated_by: string | null;
  r_created_at: Date;
}

interface TransferRow {
  t_id: string;
  t_sender: string;
  t_recipient: string;
  t_amount_minor: bigint;
  t_currency: string;
  t_reversed_minor: bigint;
}

function reversalFromRow(row: ReversalRow): ReversalRecord | undefined {
  if (row.r_id === null) return undefined;
  return {
    id: row.r_id,
    transferId: row.r_transfer_id,
    fromAccountId: row.r_from,
    toAccountId: row.r_to,
    amountMinor: row.r_amount_minor,
    currency: row.r_currency,
    reason: row.r_reason,
    forced: row.r_forced,
    forcedDebtMinor: row.r_forced_debt_minor,
    remainingAfterMinor: row.r_remaining_after_minor,
    idempotencyKey: row.r_key,
    requestHash: row.r_hash,
    initiatedBy: row.r_initiated_by,
    createdAt: row.r_created_at,
  };
}

export async function lockTransferForReversal(
  db: Queryable,
  params: { transferId: string; idempotencyKey: string },
): Promise<{ transfer: TransferToReverse; existing: ReversalRecord | undefined } | undefined> {
  const { rows } = await db.query<TransferRow & ReversalRow>({ name: 'bank_reversal_lock_transfer', text: LOCK_TRANSFER_SQL, values: [params.transferId, params.idempotencyKey] });
  const row = rows[0];
  if (!row) return undefined;
  const transfer: TransferToReverse = {
    id: row.t_id,
    senderAccountId: row.t_sender,
    recipientAccountId: row.t_recipient,
    amountMinor: row.t_amount_minor,
    currency: row.t_currency,
    reversedMinor: row.t_reversed_minor,
  };
  return { transfer, existing: reversalFromRow(row) };
}

interface AccountLockRow {
  id: string;
  currency: string;
  balance_minor: bigint;
  version: bigint;
  pending_out_minor: bigint;
  overdraft_limit_minor: bigint;
  forced_debt_minor: bigint;
  daily_limit_minor: bigint | null;
  monthly_limit_minor: bigint | null;
  time_zone: string;
  spent_day: string | null;
  spent_day_minor: bigint;
  spent_month: string | null;
  spent_month_minor: bigint;
}

/** Locks the accounts in id order (the order transfers use: no deadlock). */
export async function lockReversalAccounts(db: Queryable, accountIds: string[]): Promise<Map<string, ReversalAccountState>> {
  const { rows } = await db.query<AccountLockRow>({
    name: 'bank_reversal_lock_accounts',
    text: `SELECT id, currency::text AS currency, balance_minor, version, pending_out_minor, overdraft_limit_minor, forced_debt_minor,
                  daily_limit_minor, monthly_limit_minor, time_zone, spent_day::text AS spent_day, spent_day_minor,
                  spent_month::text AS spent_month, spent_month_minor
             FROM bank.accounts WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE`,
    values: [accountIds],
  });
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        currency: r.currency,
        balanceMinor: r.balance_minor,
        version: r.version,
        pendingOutMinor: r.pending_out_minor,
        overdraftLimitMinor: r.overdraft_limit_minor,
        forcedDebtMinor: r.forced_debt_minor,
        dailyLimitMinor: r.daily_limit_minor,
        monthlyLimitMinor: r.monthly_limit_minor,
        timeZone: r.time_zone,
        spentDay: r.spent_day,
        spentDayMinor: r.spent_day_minor,
        spentMonth: r.spent_month,
        spentMonthMinor: r.spent_month_minor,
      },
    ]),
  );
}

// One statement: balances (guarded by the versions read under lock) and the
// forced debt, the transfer's reversed amount (guarded likewise), the
// reversal, its two entries and two events. The entries' foreign key to the
// reversal is checked at the end of the statement.
const REVERSAL_WRITE_SQL = `
WITH acc AS (
  UPDATE bank.accounts AS a
     SET balance_minor = u.balance_minor, forced_debt_minor = u.forced_debt_minor, version = a.version + 1, updated_at = $5
    FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u (id, balance_minor, forced_debt_minor, expected_version)
   WHERE a.id = u.id AND a.version = u.expected_version
  RETURNING a.id
), tr AS (
  UPDATE bank.transfers SET reversed_minor = $8 WHERE id = $6 AND reversed_minor = $7 RETURNING id
), rv AS (
  INSERT INTO bank.reversals (id, transfer_id, from_account_id, to_account_id, amount_minor, currency, reason, forced,
                              forced_debt_minor, remaining_after_minor, idempotency_key, request_hash, initiated_by, created_at)
  VALUES ($9, $6, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $5)
  RETURNING id
), le AS (
  INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type, reversal_id, created_at)
  SELECT account_id, amount_minor, balance_after_minor, 'reversal', $9, $5
    FROM unnest($21::uuid[], $22::bigint[], $23::bigint[]) WITH ORDINALITY AS x (account_id, amount_minor, balance_after_minor, n)
   ORDER BY n
  RETURNING id
), ob AS (
  INSERT INTO bank.outbox (account_id, event_type, payload, created_at, trace_context)
  SELECT account_id, event_type, payload, $5, $27::text
    FROM unnest($24::uuid[], $25::text[], $26::jsonb[]) WITH ORDINALITY AS x (account_id, event_type, payload, n)
   ORDER BY n
  RETURNING id
)
SELECT (SELECT count(*) FROM acc) AS accounts, (SELECT count(*) FROM tr) AS transfers,
       (SELECT count(*) FROM rv) AS reversals, (SELECT count(*) FROM le) AS entries, (SELECT count(*) FROM ob) AS events`;

export async function writeReversal(db: Queryable, plan: ReversalPlan, traceContext: string | null): Promise<void> {
  const { reversal, accountUpdates: updates, postings, events } = plan;
  const { rows } = await db.query<{ accounts: bigint; transfers: bigint; reversals: bigint; entries: bigint; events: bigint }>({
    name: 'bank_reversal_write',
    text: REVERSAL_WRITE_SQL,
    values: [
      updates.map((u) => u.id),
      updates.map((u) => u.balanceMinor.toString()),
      updates.map((u) => u.forcedDebtMinor.toString()),
      updates.map((u) => u.expectedVersion.toString()),
      reversal.createdAt,
      reversal.transferId,
      plan.reversedMinorBefore.toString(),
      plan.reversedMinorAfter.toString(),
      reversal.id,
      reversal.fromAccountId,
      reversal.toAccountId,
      reversal.amountMinor.toString(),
      reversal.currency,
      reversal.reason,
      reversal.forced,
      reversal.forcedDebtMinor.toString(),
      reversal.remainingAfterMinor.toString(),
      reversal.idempotencyKey,
      reversal.requestHash,
      reversal.initiatedBy,
      postings.map((p) => p.accountId),
      postings.map((p) => p.amountMinor.toString()),
      postings.map((p) => p.balanceAfterMinor.toString()),
      events.map((e) => e.accountId),
      events.map((e) => e.eventType),
      events.map((e) => JSON.stringify(e.payload)),
      traceContext,
    ],
  });
  const counts = rows[0];
  // A version or reversed amount that changed although we hold the locks is a bug: fail loudly, roll back.
  if (!counts || counts.accounts !== 2n || counts.transfers !== 1n || counts.reversals !== 1n || counts.entries !== 2n || counts.events !== 2n) {
    throw new InvariantViolation(`reversal write counts ${JSON.stringify(counts, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))} differ from the plan`);
  }
}

/** The refusal bound to (transfer, key), if any; call while holding the transfer's row lock. */
export async function findReversalFailure(db: Queryable, params: { transferId: string; idempotencyKey: string }): Promise<ReversalFailureRecord | undefined> {
  const { rows } = await db.query<{ reason: ReversalFailureRecord['reason']; request_hash: string; metadata: Record<string, string> | null }>({
    name: 'bank_reversal_failure_find',
    text: 'SELECT reason, request_hash, metadata FROM bank.reversal_failures WHERE transfer_id = $1 AND idempotency_key = $2',
    values: [params.transferId, params.idempotencyKey],
  });
  const row = rows[0];
  return row ? { reason: row.reason, requestHash: row.request_hash, metadata: row.metadata ?? {} } : undefined;
}

/** Binds a refusal to (transfer, key): replayed on retry (ADR 0017). Under the transfer's row lock. */
export async function writeReversalFailure(
  db: Queryable,
  params: { transferId: string; idempotencyKey: string; failure: ReversalFailureRecord; at: Date },
): Promise<void> {
  const { failure } = params;
  await db.query({
    name: 'bank_reversal_failure_write',
    text: 'INSERT INTO bank.reversal_failures (transfer_id, idempotency_key, request_hash, reason, metadata, created_at) VALUES ($1, $2, $3, $4, $5, $6)',
    values: [params.transferId, params.idempotencyKey, failure.requestHash, failure.reason, JSON.stringify(failure.metadata), params.at],
  });
}

const REVERSAL_LIST_COLUMNS = REVERSAL_COLUMNS.replace(/\s+/g, ' ');

/**
 * A transfer's reversals, oldest first, at most `limit`, after the reversal
 * `afterReversalId` of the same transfer (keyset on created_at, id).
 */
export async function listReversalsOfTransfer(
  db: Queryable,
  params: { transferId: string; afterReversalId: string | null; limit: number },
): Promise<ReversalRecord[]> {
  const { rows } = await db.query<ReversalRow>({
    name: 'bank_reversal_list',
    text: `SELECT ${REVERSAL_LIST_COLUMNS}
             FROM bank.reversals r
            WHERE r.transfer_id = $1
              AND ($2::uuid IS NULL OR (r.created_at, r.id) > (SELECT a.created_at, a.id FROM bank.reversals a WHERE a.id = $2 AND a.transfer_id = $1))
            ORDER BY r.created_at, r.id
            LIMIT $3`,
    values: [params.transferId, params.afterReversalId, params.limit],
  });
  return rows.flatMap((row) => reversalFromRow(row) ?? []);
}

/** The transfer as a reversal listing shows it (amount and what was reversed), or undefined. */
export async function findTransferForReversals(db: Queryable, transferId: string): Promise<TransferToReverse | undefined> {
  const { rows } = await db.query<TransferRow>({
    name: 'bank_reversal_transfer_read',
    text: `SELECT id AS t_id, sender_account_id AS t_sender, recipient_account_id AS t_recipient, amount_minor AS t_amount_minor,
                  currency::text AS t_currency, reversed_minor AS t_reversed_minor
             FROM bank.transfers WHERE id = $1`,
    values: [transferId],
  });
  const row = rows[0];
  return row
    ? { id: row.t_id, senderAccountId: row.t_sender, recipientAccountId: row.t_recipient, amountMinor: row.t_amount_minor, currency: row.t_currency, reversedMinor: row.t_reversed_minor }
    : undefined;
}

export async function reversalExists(db: Queryable, params: { transferId: string; reversalId: string }): Promise<boolean> {
  const { rows } = await db.query({
    name: 'bank_reversal_exists',
    text: 'SELECT 1 FROM bank.reversals WHERE id = $1 AND transfer_id = $2',
    values: [params.reversalId, params.transferId],
  });
  return rows.length > 0;
}
