// SQL of transfers: the context of a batch (stored outcomes, locked accounts),
// the write of accepted transfers, and the binding of business failures.
import type { StoredFailure, TransferRecord } from '../domain/ledger.js';
import type { TransferFailureRecord } from '../domain/transfer-batch.js';
import type { BoundFailureReason } from '../domain/errors.js';
import { accountsFrom, accountStateColumns, NULL_ACCOUNT_STATE_COLUMNS, type AccountRow, type Queryable } from './ledger-writes.js';
import type { AccountState } from '../domain/ledger.js';

// One round trip for a batch (or a single request): the stored transfer or
// bound failure for every (sender, key), and a lock on every customer account
// of the requests that have neither, taken in one statement in global id
// order, so batches, single requests and other replicas never deadlock. Only
// customer rows are locked: a system account (settlement) is filtered out by
// the scan before any lock is attempted, so a transfer naming it never waits
// on a deposit. The caller holds every key's advisory lock already.
// SKIP LOCKED (after a lock timeout): rows held elsewhere are skipped and
// reported as busy, so the rest of the batch runs without a second wait.
function batchContextSql(skipLocked: boolean): string {
  return `
WITH req AS MATERIALIZED (
  SELECT sender, idempotency_key, recipient
    FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS r (sender, idempotency_key, recipient)
), existing AS MATERIALIZED (
  SELECT t.id, t.sender_account_id, t.recipient_account_id, t.amount_minor, t.currency, t.description,
         t.idempotency_key, t.request_hash, t.created_at, t.initiated_by
    FROM req
    JOIN bank.transfers t ON t.sender_account_id = req.sender AND t.idempotency_key = req.idempotency_key
), failed AS MATERIALIZED (
  SELECT f.sender_account_id, f.idempotency_key, f.request_hash, f.reason, f.metadata
    FROM req
    JOIN bank.transfer_failures f ON f.sender_account_id = req.sender AND f.idempotency_key = req.idempotency_key
), wanted AS MATERIALIZED (
  SELECT DISTINCT unnest(ARRAY[req.sender, req.recipient]) AS id
    FROM req
   WHERE NOT EXISTS (SELECT 1 FROM existing e WHERE e.sender_account_id = req.sender AND e.idempotency_key = req.idempotency_key)
     AND NOT EXISTS (SELECT 1 FROM failed f WHERE f.sender_account_id = req.sender AND f.idempotency_key = req.idempotency_key)
), locked AS MATERIALIZED (
  SELECT ${accountStateColumns('a')}
    FROM bank.accounts a
   WHERE a.id = ANY (ARRAY(SELECT id FROM wanted)) AND a.kind = 'customer'
   ORDER BY a.id
     FOR UPDATE${skipLocked ? ' SKIP LOCKED' : ''}
)
SELECT 't' AS row_type, e.id AS t_id, e.sender_account_id AS t_sender, e.recipient_account_id AS t_recipient,
       e.amount_minor AS t_amount_minor, e.currency::text AS t_currency, e.description AS t_description,
       e.idempotency_key AS t_key, e.request_hash AS t_hash, e.created_at AS t_created_at, e.initiated_by AS t_initiated_by,
       NULL::text AS f_reason, NULL::jsonb AS f_metadata,
       ${NULL_ACCOUNT_STATE_COLUMNS}
  FROM existing e
UNION ALL
SELECT 'f', NULL, f.sender_account_id, NULL, NULL, NULL, NULL, f.idempotency_key, f.request_hash, NULL, NULL, f.reason, f.metadata,
       ${NULL_ACCOUNT_STATE_COLUMNS}
  FROM failed f
UNION ALL
SELECT 'a', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, l.*
  FROM locked l${
    skipLocked
      ? `
UNION ALL
SELECT 'b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       a.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
  FROM bank.accounts a
 WHERE a.id = ANY (ARRAY(SELECT id FROM wanted)) AND a.kind = 'customer' AND a.id NOT IN (SELECT a_id FROM locked)`
      : ''
  }`;
}

const BATCH_CONTEXT_SQL = batchContextSql(false);
const BATCH_CONTEXT_SKIP_LOCKED_SQL = batchContextSql(true);

interface BatchContextRow extends AccountRow {
  row_type: 't' | 'f' | 'a' | 'b';
  t_id: string | null;
  t_sender: string;
  t_recipient: string;
  t_amount_minor: bigint;
  t_currency: string;
  t_description: string;
  t_key: string;
  t_hash: string;
  t_created_at: Date;
  t_initiated_by: string | null;
  f_reason: BoundFailureReason | null;
  f_metadata: Record<string, string> | null;
}

export interface TransferBatchContext {
  /** Stored transfers under the (sender, key) of some of the requests. */
  existing: TransferRecord[];
  /** Bound business failures under the (sender, key) of some of the requests. */
  failures: Array<StoredFailure & { senderAccountId: string; idempotencyKey: string }>;
  /** Locked customer account rows of the requests without a stored outcome, in id order. */
  accounts: AccountState[];
  /** SKIP LOCKED only: customer accounts that exist but are locked elsewhere. */
  busyAccountIds: Set<string>;
}

export async function lockTransferBatchContext(
  db: Queryable,
  requests: ReadonlyArray<{ senderAccountId: string; idempotencyKey: string; recipientAccountId: string }>,
  options: { skipLocked?: boolean } = {},
): Promise<TransferBatchContext> {
  const { rows } = await db.query<BatchContextRow>({
    name: options.skipLocked ? 'bank_transfer_batch_context_skip_locked' : 'bank_transfer_batch_context',
    text: options.skipLocked ? BATCH_CONTEXT_SKIP_LOCKED_SQL : BATCH_CONTEXT_SQL,
    values: [requests.map((r) => r.senderAccountId), requests.map((r) => r.idempotencyKey), requests.map((r) => r.recipientAccountId)],
  });
  return {
    existing: rows.filter((r) => r.row_type === 't').map(transferFromRow),
    failures: rows.filter((r) => r.row_type === 'f').map(failureFromRow),
    accounts: accountsFrom(rows.filter((r) => r.row_type === 'a')).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    busyAccountIds: new Set(rows.filter((r) => r.row_type === 'b').map((r) => r.a_id!)),
  };
}

function transferFromRow(row: BatchContextRow): TransferRecord {
  return {
    id: row.t_id!,
    senderAccountId: row.t_sender,
    recipientAccountId: row.t_recipient,
    amountMinor: row.t_amount_minor,
    currency: row.t_currency,
    status: 'completed',
    description: row.t_description,
    idempotencyKey: row.t_key,
    requestHash: row.t_hash,
    createdAt: row.t_created_at,
    initiatedBy: row.t_initiated_by,
  };
}

function failureFromRow(row: BatchContextRow): StoredFailure & { senderAccountId: string; idempotencyKey: string } {
  return {
    senderAccountId: row.t_sender,
    idempotencyKey: row.t_key,
    requestHash: row.t_hash,
    reason: row.f_reason!,
    metadata: row.f_metadata ?? {},
  };
}

/** The stored outcome of one (sender, key), without locking anything (a completed outcome never changes). */
export async function findTransferOutcome(
  db: Queryable,
  senderAccountId: string,
  idempotencyKey: string,
): Promise<{ existing: TransferRecord | undefined; failure: StoredFailure | undefined }> {
  const { rows } = await db.query<BatchContextRow>({
    name: 'bank_transfer_outcome',
    text: `
SELECT 't' AS row_type, id AS t_id, sender_account_id AS t_sender, recipient_account_id AS t_recipient, amount_minor AS t_amount_minor,
       currency::text AS t_currency, description AS t_description, idempotency_key AS t_key, request_hash AS t_hash,
       created_at AS t_created_at, initiated_by AS t_initiated_by, NULL::text AS f_reason, NULL::jsonb AS f_metadata
  FROM bank.transfers WHERE sender_account_id = $1 AND idempotency_key = $2
UNION ALL
SELECT 'f', NULL, sender_account_id, NULL, NULL, NULL, NULL, idempotency_key, request_hash, NULL, NULL, reason, metadata
  FROM bank.transfer_failures WHERE sender_account_id = $1 AND idempotency_key = $2`,
    values: [senderAccountId, idempotencyKey],
  });
  const transfer = rows.find((r) => r.row_type === 't');
  const failure = rows.find((r) => r.row_type === 'f');
  return { existing: transfer && transferFromRow(transfer), failure: failure && failureFromRow(failure) };
}

/** Binds business failures to their keys (same transaction as the batch's transfers). */
export async function writeTransferFailures(db: Queryable, failures: readonly TransferFailureRecord[], createdAt: Date): Promise<void> {
  if (failures.length === 0) return;
  await db.query({
    name: 'bank_transfer_failures_write',
    text: `
INSERT INTO bank.transfer_failures (sender_account_id, idempotency_key, request_hash, reason, metadata, created_at)
SELECT sender, idempotency_key, request_hash, reason, metadata, $6
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[]) AS f (sender, idempotency_key, request_hash, reason, metadata)`,
    values: [
      failures.map((f) => f.senderAccountId),
      failures.map((f) => f.idempotencyKey),
      failures.map((f) => f.requestHash),
      failures.map((f) => f.reason),
      failures.map((f) => JSON.stringify(f.metadata)),
      createdAt,
    ],
  });
}
