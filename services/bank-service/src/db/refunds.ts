// SQL of refunds (ADR 0018). Every statement runs under the refund
// reference's advisory lock (app/refunds.ts), so a lookup never overtakes a
// refund in flight and a void and a refund of one reference never both win.
// Refunds of one deposit are serialised by the customer account's row lock:
// what remains refundable is read after that lock is held.
import type { RefundAccountState, RefundBoundFailure, RefundPlan, RefundRecord } from '../domain/refunds.js';
import { InvariantViolation } from '../domain/ledger.js';
import type { Queryable } from './ledger-writes.js';

const REFUND_COLUMNS = `r.id, r.deposit_id, r.top_up_id, r.account_id, r.amount_minor, r.currency::text AS currency, r.refund_reference,
  r.status, r.request_hash, r.initiated_by, r.created_at, r.cancelled_at`;

interface RefundRow {
  id: string;
  deposit_id: string;
  top_up_id: string;
  account_id: string;
  amount_minor: bigint;
  currency: string;
  refund_reference: string;
  status: 'debited' | 'cancelled';
  request_hash: string;
  initiated_by: string | null;
  created_at: Date;
  cancelled_at: Date | null;
}

function refundFromRow(row: RefundRow): RefundRecord {
  return {
    id: row.id,
    depositId: row.deposit_id,
    topUpId: row.top_up_id,
    accountId: row.account_id,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    refundReference: row.refund_reference,
    status: row.status,
    requestHash: row.request_hash,
    initiatedBy: row.initiated_by,
    createdAt: row.created_at,
    cancelledAt: row.cancelled_at,
  };
}

/** A voided reference: by GetRefund (no failure), or bound to a RefundDeposit business failure. */
export type VoidedRefundReference = { failure: undefined } | { failure: { reason: RefundBoundFailure; requestHash: string; metadata: Record<string, string> } };

interface VoidedRow {
  reason: 'VOIDED' | RefundBoundFailure;
  request_hash: string | null;
  metadata: Record<string, string> | null;
}

function voidedFromRow(row: VoidedRow | undefined): VoidedRefundReference | undefined {
  if (!row) return undefined;
  if (row.reason === 'VOIDED' || row.request_hash === null) return { failure: undefined };
  return { failure: { reason: row.reason, requestHash: row.request_hash, metadata: row.metadata ?? {} } };
}

export interface StoredRefundAnswer {
  existing: RefundRecord | undefined;
  voided: VoidedRefundReference | undefined;
}

export async function findRefundByReference(db: Queryable, refundReference: string): Promise<StoredRefundAnswer> {
  const { rows } = await db.query<RefundRow>({
    name: 'bank_refund_by_reference',
    text: `SELECT ${REFUND_COLUMNS} FROM bank.refunds r WHERE r.refund_reference = $1`,
    values: [refundReference],
  });
  const voided = rows[0]
    ? undefined
    : await db.query<VoidedRow>({
        name: 'bank_refund_voided',
        text: 'SELECT reason, request_hash, metadata FROM bank.voided_refund_references WHERE refund_reference = $1',
        values: [refundReference],
      });
  return { existing: rows[0] ? refundFromRow(rows[0]) : undefined, voided: voidedFromRow(voided?.rows[0]) };
}

export interface DepositOfTopUp {
  id: string;
  accountId: string;
  amountMinor: bigint;
  currency: string;
}

export async function findDepositOfTopUp(db: Queryable, topUpId: string): Promise<DepositOfTopUp | undefined> {
  const { rows } = await db.query<{ id: string; account_id: string; amount_minor: bigint; currency: string }>({
    name: 'bank_refund_deposit_of_top_up',
    text: 'SELECT id, account_id, amount_minor, currency::text AS currency FROM bank.deposits WHERE top_up_id = $1 ORDER BY created_at LIMIT 1',
    values: [topUpId],
  });
  const row = rows[0];
  return row ? { id: row.id, accountId: row.account_id, amountMinor: BigInt(row.amount_minor), currency: row.currency } : undefined;
}

/** Locks the rows in id order (the order transfers use: no deadlocks). */
export async function lockRefundAccounts(db: Queryable, accountIds: string[]): Promise<Map<string, RefundAccountState>> {
  const { rows } = await db.query<{
    id: string;
    kind: 'customer' | 'settlement';
    currency: string;
    balance_minor: bigint;
    pending_out_minor: bigint;
    overdraft_limit_minor: bigint;
    version: bigint;
  }>({
    name: 'bank_refund_lock_accounts',
    text: `SELECT id, kind, currency::text AS currency, balance_minor, pending_out_minor, overdraft_limit_minor, version
             FROM bank.accounts WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE`,
    values: [accountIds],
  });
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        kind: r.kind,
        currency: r.currency,
        balanceMinor: BigInt(r.balance_minor),
        pendingOutMinor: BigInt(r.pending_out_minor),
        overdraftLimitMinor: BigInt(r.overdraft_limit_minor),
        version: BigInt(r.version),
      },
    ]),
  );
}

/** Σ of the deposit's refunds that are not cancelled; call only while holding the account's row lock. */
export async function refundedOfDeposit(db: Queryable, depositId: string): Promise<bigint> {
  const { rows } = await db.query<{ refunded: bigint }>({
    name: 'bank_refund_refunded_of_deposit',
    text: `SELECT coalesce(sum(amount_minor), 0)::bigint AS refunded FROM bank.refunds WHERE deposit_id = $1 AND status = 'debited'`,
    values: [depositId],
  });
  return BigInt(rows[0]?.refunded ?? 0n);
}

// Balances (guarded by the versions read under lock), the refund row (new or
// cancelled), its two entries and its event: one statement.
const refundWriteSql = (refundStep: string) => `
WITH acc AS (
  UPDATE bank.accounts AS a
     SET balance_minor = u.balance_minor, version = a.version + 1, updated_at = $3
    FROM unnest($1::uuid[], $2::bigint[], $4::bigint[]) AS u (id, balance_minor, expected_version)
   WHERE a.id = u.id AND a.version = u.expected_version
  RETURNING a.id
), rf AS (
  ${refundStep}
), le AS (
  INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type, refund_id, created_at)
  SELECT account_id, amount_minor, balance_after_minor, 'refund', $5::uuid, $3
    FROM unnest($6::uuid[], $7::bigint[], $8::bigint[]) WITH ORDINALITY AS x (account_id, amount_minor, balance_after_minor, n)
   WHERE EXISTS (SELECT 1 FROM rf)
   ORDER BY n
  RETURNING id
), ob AS (
  INSERT INTO bank.outbox (account_id, event_type, payload, created_at, trace_context)
  SELECT $9::uuid, $10::text, $11::jsonb, $3, $12::text WHERE EXISTS (SELECT 1 FROM rf)
  RETURNING id
)
SELECT (SELECT count(*) FROM acc) AS accounts, (SELECT count(*) FROM rf) AS records,
       (SELECT count(*) FROM le) AS entries, (SELECT count(*) FROM ob) AS events`;

const INSERT_REFUND = `INSERT INTO bank.refunds (id, deposit_id, top_up_id, account_id, amount_minor, currency, refund_reference, status,
                                               request_hash, initiated_by, created_at)
  VALUES ($5, $13, $14, $15, $16, $17, $18, 'debited', $19, $20, $3)
  RETURNING id`;

const CANCEL_REFUND = `UPDATE bank.refunds SET status = 'cancelled', cancelled_at = $3
   WHERE id = $5 AND status = 'debited'
  RETURNING id`;

const REFUND_WRITE_SQL = refundWriteSql(INSERT_REFUND);
const REFUND_CANCEL_SQL = refundWriteSql(CANCEL_REFUND);

function writeParams(plan: RefundPlan, accounts: ReadonlyMap<string, RefundAccountState>, at: Date, traceContext: string | null): unknown[] {
  const updates = [...plan.postings].sort((a, b) => (a.accountId < b.accountId ? -1 : 1));
  const versionOf = (id: string): string => {
    const account = accounts.get(id);
    if (!account) throw new InvariantViolation(`refund posting to unlocked account ${id}`);
    return account.version.toString();
  };
  return [
    updates.map((p) => p.accountId),
    updates.map((p) => p.balanceAfterMinor.toString()),
    at,
    updates.map((p) => versionOf(p.accountId)),
    plan.refund.id,
    plan.postings.map((p) => p.accountId),
    plan.postings.map((p) => p.amountMinor.toString()),
    plan.postings.map((p) => p.balanceAfterMinor.toString()),
    plan.event.accountId,
    plan.event.eventType,
    JSON.stringify(plan.event.payload),
    traceContext,
  ];
}

interface WriteCounts {
  accounts: bigint;
  records: bigint;
  entries: bigint;
  events: bigint;
}

function checkCounts(counts: WriteCounts | undefined): void {
  // A version mismatch (a row changed although we hold its lock) or a lost status race fails here.
  if (!counts || counts.accounts !== 2n || counts.records !== 1n || counts.entries !== 2n || counts.events !== 1n) {
    throw new InvariantViolation(`refund write counts ${JSON.stringify(counts, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))} differ from the plan`);
  }
}

export async function writeRefund(db: Queryable, plan: RefundPlan, accounts: ReadonlyMap<string, RefundAccountState>, traceContext: string | null): Promise<void> {
  const r = plan.refund;
  const { rows } = await db.query<WriteCounts>({
    name: 'bank_refund_write',
    text: REFUND_WRITE_SQL,
    values: [
      ...writeParams(plan, accounts, r.createdAt, traceContext),
      r.depositId,
      r.topUpId,
      r.accountId,
      r.amountMinor.toString(),
      r.currency,
      r.refundReference,
      r.requestHash,
      r.initiatedBy,
    ],
  });
  checkCounts(rows[0]);
}

export async function writeRefundCancel(db: Queryable, plan: RefundPlan, accounts: ReadonlyMap<string, RefundAccountState>, traceContext: string | null): Promise<void> {
  const { rows } = await db.query<WriteCounts>({
    name: 'bank_refund_cancel_write',
    text: REFUND_CANCEL_SQL,
    values: writeParams(plan, accounts, plan.refund.cancelledAt as Date, traceContext),
  });
  checkCounts(rows[0]);
}

/** Binds a RefundDeposit business failure to its reference: replayed on retry, VOIDED for GetRefund. */
export async function writeRefundFailure(
  db: Queryable,
  params: { refundReference: string; requestHash: string; reason: RefundBoundFailure; metadata: Record<string, string>; at: Date },
): Promise<void> {
  await db.query({
    name: 'bank_refund_failure_write',
    text: `INSERT INTO bank.voided_refund_references (refund_reference, reason, request_hash, metadata, created_at) VALUES ($1, $2, $3, $4, $5)`,
    values: [params.refundReference, params.reason, params.requestHash, JSON.stringify(params.metadata), params.at],
  });
}

/** GetRefund(void_if_absent): voids a reference that has neither a refund nor a voided row. */
export async function voidRefundReference(db: Queryable, refundReference: string, at: Date): Promise<void> {
  await db.query({
    name: 'bank_refund_void',
    text: `INSERT INTO bank.voided_refund_references (refund_reference, reason, created_at) VALUES ($1, 'VOIDED', $2)`,
    values: [refundReference, at],
  });
}
