// SQL of holds: the hold row (by id or by key, locked or not), bound
// CreateHold failures, the account rows a hold changes (locked in id order,
// written back guarded by the version read under lock), the capture's
// transfer and entries, and the outbox rows. Holds are rare next to
// transfers: one transaction each, a few plain statements.
import type { BoundFailureReason } from '../domain/errors.js';
import type { HoldAccountState, HoldAccountUpdate, HoldRecord } from '../domain/holds.js';
import { InvariantViolation, type OutboxEvent, type Posting, type StoredFailure, type TransferRecord } from '../domain/ledger.js';
import type { Queryable } from './ledger-writes.js';

const HOLD_COLUMNS = `h.id, h.sender_account_id, h.recipient_account_id, h.amount_minor, h.currency::text AS currency, h.status,
  h.captured_minor, h.transfer_id, h.description, h.idempotency_key, h.request_hash, h.initiated_by, h.created_at,
  h.expires_at, h.finalized_at`;

interface HoldRow {
  id: string;
  sender_account_id: string;
  recipient_account_id: string;
  amount_minor: bigint;
  currency: string;
  status: HoldRecord['status'];
  captured_minor: bigint | null;
  transfer_id: string | null;
  description: string;
  idempotency_key: string;
  request_hash: string;
  initiated_by: string | null;
  created_at: Date;
  expires_at: Date;
  finalized_at: Date | null;
}

function holdFromRow(row: HoldRow): HoldRecord {
  return {
    id: row.id,
    senderAccountId: row.sender_account_id,
    recipientAccountId: row.recipient_account_id,
    amountMinor: row.amount_minor,
    currency: row.currency,
    status: row.status,
    capturedMinor: row.captured_minor,
    transferId: row.transfer_id,
    description: row.description,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    initiatedBy: row.initiated_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    finalizedAt: row.finalized_at,
  };
}

/** A hold by id; `forUpdate` takes its row lock (waits, bounded by lock_timeout). */
export async function findHold(db: Queryable, holdId: string, options: { forUpdate: boolean }): Promise<HoldRecord | undefined> {
  const { rows } = await db.query<HoldRow>({
    name: options.forUpdate ? 'bank_hold_lock' : 'bank_hold_find',
    text: `SELECT ${HOLD_COLUMNS} FROM bank.holds h WHERE h.id = $1${options.forUpdate ? ' FOR UPDATE' : ''}`,
    values: [holdId],
  });
  return rows[0] && holdFromRow(rows[0]);
}

/** The hold or bound failure an earlier CreateHold with this (sender, key) left; the caller holds the key's advisory lock. */
export async function findHoldOutcome(
  db: Queryable,
  senderAccountId: string,
  idempotencyKey: string,
): Promise<{ hold: HoldRecord | undefined; failure: StoredFailure | undefined }> {
  const holds = await db.query<HoldRow>({
    name: 'bank_hold_by_key',
    text: `SELECT ${HOLD_COLUMNS} FROM bank.holds h WHERE h.sender_account_id = $1 AND h.idempotency_key = $2`,
    values: [senderAccountId, idempotencyKey],
  });
  if (holds.rows[0]) return { hold: holdFromRow(holds.rows[0]), failure: undefined };
  const failures = await db.query<{ request_hash: string; reason: BoundFailureReason; metadata: Record<string, string> }>({
    name: 'bank_hold_failure_by_key',
    text: 'SELECT request_hash, reason, metadata FROM bank.hold_failures WHERE sender_account_id = $1 AND idempotency_key = $2',
    values: [senderAccountId, idempotencyKey],
  });
  const row = failures.rows[0];
  return { hold: undefined, failure: row && { requestHash: row.request_hash, reason: row.reason, metadata: row.metadata } };
}

/** Pending holds due at `at`, oldest first, locked; rows another sweeper or a capture holds are skipped. */
export async function lockDueHolds(db: Queryable, at: Date, limit: number): Promise<HoldRecord[]> {
  const { rows } = await db.query<HoldRow>({
    name: 'bank_holds_due',
    text: `SELECT ${HOLD_COLUMNS} FROM bank.holds h
            WHERE h.status = 'pending' AND h.expires_at <= $1
            ORDER BY h.expires_at
            LIMIT $2
              FOR UPDATE SKIP LOCKED`,
    values: [at, limit],
  });
  return rows.map(holdFromRow);
}

interface HoldAccountRow {
  id: string;
  kind: HoldAccountState['kind'];
  currency: string;
  balance_minor: bigint;
  pending_out_minor: bigint;
  pending_in_minor: bigint;
  overdraft_limit_minor: bigint;
  daily_limit_minor: bigint | null;
  monthly_limit_minor: bigint | null;
  time_zone: string;
  spent_day: string | null;
  spent_day_minor: bigint;
  spent_month: string | null;
  spent_month_minor: bigint;
  version: bigint;
}

/** The account rows, locked in ascending id order (the order transfers use: no deadlocks). */
export async function lockHoldAccounts(db: Queryable, accountIds: readonly string[]): Promise<Map<string, HoldAccountState>> {
  const { rows } = await db.query<HoldAccountRow>({
    name: 'bank_hold_accounts_lock',
    text: `SELECT id, kind, currency::text AS currency, balance_minor, pending_out_minor, pending_in_minor, overdraft_limit_minor,
                  daily_limit_minor, monthly_limit_minor, time_zone, spent_day::text AS spent_day, spent_day_minor,
                  spent_month::text AS spent_month, spent_month_minor, version
             FROM bank.accounts
            WHERE id = ANY ($1::uuid[])
            ORDER BY id
              FOR UPDATE`,
    values: [[...new Set(accountIds)]],
  });
  return new Map(
    rows.map((r) => [
      r.id,
      {
        id: r.id,
        kind: r.kind,
        currency: r.currency,
        balanceMinor: r.balance_minor,
        pendingOutMinor: r.pending_out_minor,
        pendingInMinor: r.pending_in_minor,
        overdraftLimitMinor: r.overdraft_limit_minor,
        dailyLimitMinor: r.daily_limit_minor,
        monthlyLimitMinor: r.monthly_limit_minor,
        timeZone: r.time_zone,
        spentDay: r.spent_day,
        spentDayMinor: r.spent_day_minor,
        spentMonth: r.spent_month,
        spentMonthMinor: r.spent_month_minor,
        version: r.version,
      },
    ]),
  );
}

/** Writes the accounts' new states; a row whose version changed under our lock is a bug. */
export async function writeHoldAccounts(db: Queryable, updates: HoldAccountUpdate[], at: Date): Promise<void> {
  if (updates.length === 0) return;
  const { rowCount } = await db.query({
    name: 'bank_hold_accounts_write',
    text: `UPDATE bank.accounts AS a
              SET balance_minor = u.balance_minor, pending_out_minor = u.pending_out_minor, pending_in_minor = u.pending_in_minor,
                  spent_day = u.spent_day, spent_day_minor = u.spent_day_minor, spent_month = u.spent_month,
                  spent_month_minor = u.spent_month_minor, version = a.version + 1, updated_at = $9
             FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::date[], $6::bigint[], $7::date[], $8::bigint[], $10::bigint[])
                  AS u (id, balance_minor, pending_out_minor, pending_in_minor, spent_day, spent_day_minor, spent_month, spent_month_minor, expected_version)
            WHERE a.id = u.id AND a.version = u.expected_version`,
    values: [
      updates.map((u) => u.id),
      updates.map((u) => u.balanceMinor.toString()),
      updates.map((u) => u.pendingOutMinor.toString()),
      updates.map((u) => u.pendingInMinor.toString()),
      updates.map((u) => u.spentDay),
      updates.map((u) => u.spentDayMinor.toString()),
      updates.map((u) => u.spentMonth),
      updates.map((u) => u.spentMonthMinor.toString()),
      at,
      updates.map((u) => u.expectedVersion.toString()),
    ],
  });
  if (rowCount !== updates.length) throw new InvariantViolation(`${rowCount} of ${updates.length} hold account rows written`);
}

export async function insertHold(db: Queryable, hold: HoldRecord): Promise<void> {
  await db.query({
    name: 'bank_hold_insert',
    text: `INSERT INTO bank.holds (id, sender_account_id, recipient_account_id, amount_minor, currency, status, description,
                                   idempotency_key, request_hash, initiated_by, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11)`,
    values: [
      hold.id,
      hold.senderAccountId,
      hold.recipientAccountId,
      hold.amountMinor.toString(),
      hold.currency,
      hold.description,
      hold.idempotencyKey,
      hold.requestHash,
      hold.initiatedBy,
      hold.createdAt,
      hold.expiresAt,
    ],
  });
}

/** Binds a CreateHold business failure to its (sender, key): replayed on retry. */
export async function writeHoldFailure(
  db: Queryable,
  params: { senderAccountId: string; idempotencyKey: string; requestHash: string; reason: BoundFailureReason; metadata: Record<string, string>; at: Date },
): Promise<void> {
  await db.query({
    name: 'bank_hold_failure_write',
    text: `INSERT INTO bank.hold_failures (sender_account_id, idempotency_key, request_hash, reason, metadata, created_at)
           VALUES ($1, $2, $3, $4, $5, $6)`,
    values: [params.senderAccountId, params.idempotencyKey, params.requestHash, params.reason, JSON.stringify(params.metadata), params.at],
  });
}

/** Moves pending holds to their final state; each must still be pending (we hold its row lock). */
export async function finalizeHolds(db: Queryable, holds: readonly HoldRecord[]): Promise<void> {
  if (holds.length === 0) return;
  const { rowCount } = await db.query({
    name: 'bank_holds_finalize',
    text: `UPDATE bank.holds AS h
              SET status = u.status, captured_minor = u.captured_minor, transfer_id = u.transfer_id, finalized_at = u.finalized_at
             FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::uuid[], $5::timestamptz[])
                  AS u (id, status, captured_minor, transfer_id, finalized_at)
            WHERE h.id = u.id AND h.status = 'pending'`,
    values: [
      holds.map((h) => h.id),
      holds.map((h) => h.status),
      holds.map((h) => h.capturedMinor?.toString() ?? null),
      holds.map((h) => h.transferId),
      holds.map((h) => h.finalizedAt),
    ],
  });
  if (rowCount !== holds.length) throw new InvariantViolation(`${rowCount} of ${holds.length} holds finalized`);
}

/** The transfer a capture posts (hold_id set) and its two 'transfer' entries, in posting order. */
export async function insertCaptureTransfer(db: Queryable, transfer: TransferRecord, holdId: string, postings: readonly Posting[]): Promise<void> {
  await db.query({
    name: 'bank_hold_capture_transfer',
    text: `INSERT INTO bank.transfers (id, sender_account_id, recipient_account_id, amount_minor, currency, status, description,
                                       idempotency_key, request_hash, created_at, initiated_by, hold_id)
           VALUES ($1, $2, $3, $4, $5, 'completed', $6, $7, $8, $9, $10, $11)`,
    values: [
      transfer.id,
      transfer.senderAccountId,
      transfer.recipientAccountId,
      transfer.amountMinor.toString(),
      transfer.currency,
      transfer.description,
      transfer.idempotencyKey,
      transfer.requestHash,
      transfer.createdAt,
      transfer.initiatedBy,
      holdId,
    ],
  });
  const { rowCount } = await db.query({
    name: 'bank_hold_capture_entries',
    text: `INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type, transfer_id, created_at)
           SELECT account_id, amount_minor, balance_after_minor, 'transfer', $4, $5
             FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS x (account_id, amount_minor, balance_after_minor, n)
            ORDER BY n`,
    values: [
      postings.map((p) => p.accountId),
      postings.map((p) => p.amountMinor.toString()),
      postings.map((p) => p.balanceAfterMinor.toString()),
      transfer.id,
      transfer.createdAt,
    ],
  });
  if (rowCount !== postings.length) throw new InvariantViolation(`${rowCount} of ${postings.length} capture entries written`);
}

/** Outbox rows in order; `traceContext`: the request's traceparent (null for the sweep). */
export async function insertHoldOutbox(db: Queryable, events: ReadonlyArray<{ event: OutboxEvent; at: Date }>, traceContext: string | null): Promise<void> {
  if (events.length === 0) return;
  const { rowCount } = await db.query({
    name: 'bank_hold_outbox',
    text: `INSERT INTO bank.outbox (account_id, event_type, payload, created_at, trace_context)
           SELECT account_id, event_type, payload, created_at, $5
             FROM unnest($1::uuid[], $2::text[], $3::jsonb[], $4::timestamptz[]) WITH ORDINALITY AS x (account_id, event_type, payload, created_at, n)
            ORDER BY n`,
    values: [
      events.map((e) => e.event.accountId),
      events.map((e) => e.event.eventType),
      events.map((e) => JSON.stringify(e.event.payload)),
      events.map((e) => e.at),
      traceContext,
    ],
  });
  if (rowCount !== events.length) throw new InvariantViolation(`${rowCount} of ${events.length} hold events written`);
}

/** The transfer a capture posted (for a replayed capture). */
export async function findCaptureTransfer(db: Queryable, transferId: string): Promise<TransferRecord | undefined> {
  const { rows } = await db.query<{
    id: string;
    sender_account_id: string;
    recipient_account_id: string;
    amount_minor: bigint;
    currency: string;
    description: string;
    idempotency_key: string;
    request_hash: string;
    created_at: Date;
    initiated_by: string | null;
  }>({
    name: 'bank_hold_capture_transfer_find',
    text: `SELECT id, sender_account_id, recipient_account_id, amount_minor, currency::text AS currency, description, idempotency_key,
                  request_hash, created_at, initiated_by
             FROM bank.transfers WHERE id = $1`,
    values: [transferId],
  });
  const row = rows[0];
  if (!row) return undefined;
  return {
    id: row.id,
    senderAccountId: row.sender_account_id,
    recipientAccountId: row.recipient_account_id,
    amountMinor: row.amount_minor,
    currency: row.currency,
    status: 'completed',
    description: row.description,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    createdAt: row.created_at,
    initiatedBy: row.initiated_by,
  };
}
