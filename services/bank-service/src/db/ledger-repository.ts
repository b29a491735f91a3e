// SQL of the ledger. Each function is one round trip. Writes take arrays, so
// one statement writes one transfer or a whole batch of them (group commit).
import type pg from 'pg';
import type {
  AccountKind,
  AccountState,
  AccountUpdate,
  DepositPlan,
  DepositRecord,
  OutboxEvent,
  Posting,
  TransferPlan,
  TransferRecord,
} from '../domain/ledger.js';
import { InvariantViolation } from '../domain/ledger.js';

type Queryable = Pick<pg.PoolClient, 'query'>;

export interface LockedContext<R> {
  /** The stored request with this idempotency key / reference, if any (then no rows are locked). */
  existing: R | undefined;
  /** Locked account rows, in id order. */
  accounts: AccountState[];
}

interface ContextRow {
  a_id: string | null;
  a_kind: AccountKind | null;
  a_currency: string | null;
  a_balance_minor: bigint | null;
  a_version: bigint | null;
}

// Looks up the earlier request and, only if there is none, locks the account
// rows in id order (the fixed order makes deadlocks between transfers
// impossible). The caller already holds the idempotency advisory lock, so the
// lookup cannot miss a request that is still executing.
const LOCK_ACCOUNTS = `
  locked AS MATERIALIZED (
    SELECT id, kind, currency, balance_minor, version
      FROM bank.accounts
     WHERE id = ANY($ACCOUNT_IDS::uuid[]) AND NOT EXISTS (SELECT 1 FROM existing)
     ORDER BY id
       FOR UPDATE
  )`;

const TRANSFER_CONTEXT_SQL = `
WITH existing AS (
  SELECT id, sender_account_id, recipient_account_id, amount_minor, currency, status, description,
         idempotency_key, request_hash, created_at
    FROM bank.transfers
   WHERE sender_account_id = $1 AND idempotency_key = $2
), ${LOCK_ACCOUNTS.replace('$ACCOUNT_IDS', '$3')}
SELECT e.id AS t_id, e.sender_account_id AS t_sender, e.recipient_account_id AS t_recipient,
       e.amount_minor AS t_amount_minor, e.currency AS t_currency, e.description AS t_description,
       e.idempotency_key AS t_key, e.request_hash AS t_hash, e.created_at AS t_created_at,
       l.id AS a_id, l.kind AS a_kind, l.currency AS a_currency, l.balance_minor AS a_balance_minor, l.version AS a_version
  FROM (SELECT) AS one
  LEFT JOIN existing e ON true
  LEFT JOIN locked l ON true
 ORDER BY l.id`;

interface TransferContextRow extends ContextRow {
  t_id: string | null;
  t_sender: string;
  t_recipient: string;
  t_amount_minor: bigint;
  t_currency: string;
  t_description: string;
  t_key: string;
  t_hash: string;
  t_created_at: Date;
}

function accountsFrom(rows: ContextRow[]): AccountState[] {
  return rows
    .filter((r) => r.a_id !== null)
    .map((r) => ({ id: r.a_id!, kind: r.a_kind!, currency: r.a_currency!, balanceMinor: r.a_balance_minor!, version: r.a_version! }));
}

export async function lockTransferContext(
  db: Queryable,
  params: { senderAccountId: string; idempotencyKey: string; accountIds: string[] },
): Promise<LockedContext<TransferRecord>> {
  const { rows } = await db.query<TransferContextRow>({
    name: 'bank_transfer_context',
    text: TRANSFER_CONTEXT_SQL,
    values: [params.senderAccountId, params.idempotencyKey, params.accountIds],
  });
  const first = rows[0];
  const existing: TransferRecord | undefined =
    first && first.t_id !== null
      ? {
          id: first.t_id,
          senderAccountId: first.t_sender,
          recipientAccountId: first.t_recipient,
          amountMinor: first.t_amount_minor,
          currency: first.t_currency,
          status: 'completed',
          description: first.t_description,
          idempotencyKey: first.t_key,
          requestHash: first.t_hash,
          createdAt: first.t_created_at,
        }
      : undefined;
  return { existing, accounts: accountsFrom(rows) };
}

// The batch form of the transfer context (group commit), one round trip: the
// stored transfers for every (sender, key) of the batch, and a lock on every
// account of the requests that have none, taken in one statement in global
// id order, so batches (and single requests, and other replicas) can never
// deadlock. The caller holds every key's advisory lock already.
const TRANSFER_BATCH_CONTEXT_SQL = `
WITH req AS MATERIALIZED (
  SELECT sender, idempotency_key, recipient
    FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS r (sender, idempotency_key, recipient)
), existing AS MATERIALIZED (
  SELECT t.id, t.sender_account_id, t.recipient_account_id, t.amount_minor, t.currency, t.description,
         t.idempotency_key, t.request_hash, t.created_at
    FROM req
    JOIN bank.transfers t ON t.sender_account_id = req.sender AND t.idempotency_key = req.idempotency_key
), locked AS MATERIALIZED (
  SELECT id, kind, currency, balance_minor, version
    FROM bank.accounts
   WHERE id = ANY (ARRAY(
           SELECT DISTINCT unnest(ARRAY[req.sender, req.recipient])
             FROM req
            WHERE NOT EXISTS (SELECT 1 FROM existing e
                               WHERE e.sender_account_id = req.sender AND e.idempotency_key = req.idempotency_key)))
   ORDER BY id
     FOR UPDATE
)
SELECT e.id AS t_id, e.sender_account_id AS t_sender, e.recipient_account_id AS t_recipient,
       e.amount_minor AS t_amount_minor, e.currency::text AS t_currency, e.description AS t_description,
       e.idempotency_key AS t_key, e.request_hash AS t_hash, e.created_at AS t_created_at,
       NULL::uuid AS a_id, NULL::text AS a_kind, NULL::text AS a_currency, NULL::bigint AS a_balance_minor, NULL::bigint AS a_version
  FROM existing e
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       l.id, l.kind, l.currency::text, l.balance_minor, l.version
  FROM locked l`;

export interface TransferBatchContext {
  /** Stored transfers under the (sender, key) of some of the requests. */
  existing: TransferRecord[];
  /** Locked account rows of the requests without a stored transfer, in id order. */
  accounts: AccountState[];
}

export async function lockTransferBatchContext(
  db: Queryable,
  requests: ReadonlyArray<{ senderAccountId: string; idempotencyKey: string; recipientAccountId: string }>,
): Promise<TransferBatchContext> {
  const { rows } = await db.query<TransferContextRow>({
    name: 'bank_transfer_batch_context',
    text: TRANSFER_BATCH_CONTEXT_SQL,
    values: [requests.map((r) => r.senderAccountId), requests.map((r) => r.idempotencyKey), requests.map((r) => r.recipientAccountId)],
  });
  const existing = rows.filter((r) => r.t_id !== null).map(transferFromRow);
  const accounts = accountsFrom(rows).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { existing, accounts };
}

function transferFromRow(row: TransferContextRow): TransferRecord {
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
  };
}

const DEPOSIT_CONTEXT_SQL = `
WITH existing AS (
  SELECT id, account_id, amount_minor, currency, deposit_reference, top_up_id, card_last4, card_brand,
         request_hash, created_at
    FROM bank.deposits
   WHERE deposit_reference = $1
), ${LOCK_ACCOUNTS.replace('$ACCOUNT_IDS', '$2')}
SELECT e.id AS d_id, e.account_id AS d_account, e.amount_minor AS d_amount_minor, e.currency AS d_currency,
       e.deposit_reference AS d_reference, e.top_up_id AS d_top_up_id, e.card_last4 AS d_card_last4,
       e.card_brand AS d_card_brand, e.request_hash AS d_hash, e.created_at AS d_created_at,
       l.id AS a_id, l.kind AS a_kind, l.currency AS a_currency, l.balance_minor AS a_balance_minor, l.version AS a_version
  FROM (SELECT) AS one
  LEFT JOIN existing e ON true
  LEFT JOIN locked l ON true
 ORDER BY l.id`;

interface DepositContextRow extends ContextRow {
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
}

export async function lockDepositContext(
  db: Queryable,
  params: { depositReference: string; accountIds: string[] },
): Promise<LockedContext<DepositRecord>> {
  const { rows } = await db.query<DepositContextRow>({
    name: 'bank_deposit_context',
    text: DEPOSIT_CONTEXT_SQL,
    values: [params.depositReference, params.accountIds],
  });
  const first = rows[0];
  const existing: DepositRecord | undefined =
    first && first.d_id !== null
      ? {
          id: first.d_id,
          accountId: first.d_account,
          amountMinor: first.d_amount_minor,
          currency: first.d_currency,
          depositReference: first.d_reference,
          topUpId: first.d_top_up_id,
          cardLast4: first.d_card_last4,
          cardBrand: first.d_card_brand,
          requestHash: first.d_hash,
          createdAt: first.d_created_at,
        }
      : undefined;
  return { existing, accounts: accountsFrom(rows) };
}

// Shared parts of the write statements: balances (guarded by the version read
// under lock), ledger entries and outbox rows, all from arrays. WITH
// ORDINALITY + ORDER BY keeps entry and event ids in decision order.
const UPDATE_ACCOUNTS = `
  acc AS (
    UPDATE bank.accounts AS a
       SET balance_minor = u.balance_minor, version = a.version + 1, updated_at = $3
      FROM unnest($1::uuid[], $2::bigint[], $4::bigint[]) AS u (id, balance_minor, expected_version)
     WHERE a.id = u.id AND a.version = u.expected_version
    RETURNING a.id
  )`;

const INSERT_OUTBOX = `
  ob AS (
    INSERT INTO bank.outbox (account_id, event_type, payload, created_at)
    SELECT account_id, event_type, payload, created_at
      FROM unnest($5::uuid[], $6::text[], $7::jsonb[], $8::timestamptz[])
           WITH ORDINALITY AS x (account_id, event_type, payload, created_at, n)
     ORDER BY n
    RETURNING id
  )`;

const TRANSFER_WRITE_SQL = `
WITH ${UPDATE_ACCOUNTS},
  tr AS (
    INSERT INTO bank.transfers (id, sender_account_id, recipient_account_id, amount_minor, currency, status,
                                description, idempotency_key, request_hash, created_at)
    SELECT id, sender, recipient, amount_minor, currency, 'completed', description, idempotency_key, request_hash, created_at
      FROM unnest($9::uuid[], $10::uuid[], $11::uuid[], $12::bigint[], $13::text[], $14::text[], $15::text[],
                  $16::text[], $17::timestamptz[])
           AS t (id, sender, recipient, amount_minor, currency, description, idempotency_key, request_hash, created_at)
    RETURNING id
  ),
  le AS (
    INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type, transfer_id, created_at)
    SELECT account_id, amount_minor, balance_after_minor, 'transfer', ref_id, created_at
      FROM unnest($18::uuid[], $19::bigint[], $20::bigint[], $21::uuid[], $22::timestamptz[])
           WITH ORDINALITY AS x (account_id, amount_minor, balance_after_minor, ref_id, created_at, n)
     ORDER BY n
    RETURNING id
  ),
  ${INSERT_OUTBOX}
SELECT (SELECT count(*) FROM acc) AS accounts, (SELECT count(*) FROM tr) AS records,
       (SELECT count(*) FROM le) AS entries, (SELECT count(*) FROM ob) AS events`;

const DEPOSIT_WRITE_SQL = `
WITH ${UPDATE_ACCOUNTS},
  dp AS (
    INSERT INTO bank.deposits (id, account_id, amount_minor, currency, deposit_reference, top_up_id, card_last4,
                               card_brand, request_hash, created_at)
    SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::bigint[], $12::text[], $13::text[], $14::uuid[], $15::text[],
                         $16::text[], $17::text[], $18::timestamptz[])
    RETURNING id
  ),
  le AS (
    INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type, deposit_id, created_at)
    SELECT account_id, amount_minor, balance_after_minor, 'deposit', ref_id, created_at
      FROM unnest($19::uuid[], $20::bigint[], $21::bigint[], $22::uuid[], $23::timestamptz[])
           WITH ORDINALITY AS x (account_id, amount_minor, balance_after_minor, ref_id, created_at, n)
     ORDER BY n
    RETURNING id
  ),
  ${INSERT_OUTBOX}
SELECT (SELECT count(*) FROM acc) AS accounts, (SELECT count(*) FROM dp) AS records,
       (SELECT count(*) FROM le) AS entries, (SELECT count(*) FROM ob) AS events`;

interface WriteCounts {
  accounts: bigint;
  records: bigint;
  entries: bigint;
  events: bigint;
}

function accountParams(updates: AccountUpdate[], updatedAt: Date): unknown[] {
  return [
    updates.map((u) => u.id),
    updates.map((u) => u.balanceMinor.toString()),
    updatedAt,
    updates.map((u) => u.expectedVersion.toString()),
  ];
}

function outboxParams(events: OutboxEvent[], createdAt: Date[]): unknown[] {
  return [
    events.map((e) => e.accountId),
    events.map((e) => e.eventType),
    events.map((e) => JSON.stringify(e.payload)),
    createdAt,
  ];
}

function entryParams(entries: Array<{ posting: Posting; refId: string; createdAt: Date }>): unknown[] {
  return [
    entries.map((e) => e.posting.accountId),
    entries.map((e) => e.posting.amountMinor.toString()),
    entries.map((e) => e.posting.balanceAfterMinor.toString()),
    entries.map((e) => e.refId),
    entries.map((e) => e.createdAt),
  ];
}

function checkCounts(counts: WriteCounts | undefined, expected: { accounts: number; records: number; entries: number; events: number }): void {
  // Every row the plans describe must have been written; in particular a
  // version mismatch (a row changed although we hold its lock) fails here.
  if (
    !counts ||
    counts.accounts !== BigInt(expected.accounts) ||
    counts.records !== BigInt(expected.records) ||
    counts.entries !== BigInt(expected.entries) ||
    counts.events !== BigInt(expected.events)
  ) {
    throw new InvariantViolation(`write counts ${JSON.stringify(counts, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))} differ from the plan`);
  }
}

/** Writes balances, transfers, two ledger entries per transfer and their outbox events: one statement. */
export async function writeTransfers(db: Queryable, plans: TransferPlan[], updates: AccountUpdate[], updatedAt: Date): Promise<void> {
  const transfers = plans.map((p) => p.transfer);
  const entries = plans.flatMap((p) => p.postings.map((posting) => ({ posting, refId: p.transfer.id, createdAt: p.transfer.createdAt })));
  const events = plans.flatMap((p) => p.events.map((event) => ({ event, createdAt: p.transfer.createdAt })));
  const { rows } = await db.query<WriteCounts>({
    name: 'bank_transfer_write',
    text: TRANSFER_WRITE_SQL,
    values: [
      ...accountParams(updates, updatedAt),
      ...outboxParams(
        events.map((e) => e.event),
        events.map((e) => e.createdAt),
      ),
      transfers.map((t) => t.id),
      transfers.map((t) => t.senderAccountId),
      transfers.map((t) => t.recipientAccountId),
      transfers.map((t) => t.amountMinor.toString()),
      transfers.map((t) => t.currency),
      transfers.map((t) => t.description),
      transfers.map((t) => t.idempotencyKey),
      transfers.map((t) => t.requestHash),
      transfers.map((t) => t.createdAt),
      ...entryParams(entries),
    ],
  });
  checkCounts(rows[0], { accounts: updates.length, records: plans.length, entries: entries.length, events: events.length });
}

/** Writes balances, deposits, their ledger entries and topup events: one statement. */
export async function writeDeposits(db: Queryable, plans: DepositPlan[], updates: AccountUpdate[], updatedAt: Date): Promise<void> {
  const deposits = plans.map((p) => p.deposit);
  const entries = plans.flatMap((p) => p.postings.map((posting) => ({ posting, refId: p.deposit.id, createdAt: p.deposit.createdAt })));
  const events = plans.flatMap((p) => p.events.map((event) => ({ event, createdAt: p.deposit.createdAt })));
  const { rows } = await db.query<WriteCounts>({
    name: 'bank_deposit_write',
    text: DEPOSIT_WRITE_SQL,
    values: [
      ...accountParams(updates, updatedAt),
      ...outboxParams(
        events.map((e) => e.event),
        events.map((e) => e.createdAt),
      ),
      deposits.map((d) => d.id),
      deposits.map((d) => d.accountId),
      deposits.map((d) => d.amountMinor.toString()),
      deposits.map((d) => d.currency),
      deposits.map((d) => d.depositReference),
      deposits.map((d) => d.topUpId),
      deposits.map((d) => d.cardLast4),
      deposits.map((d) => d.cardBrand),
      deposits.map((d) => d.requestHash),
      deposits.map((d) => d.createdAt),
      ...entryParams(entries),
    ],
  });
  checkCounts(rows[0], { accounts: updates.length, records: plans.length, entries: entries.length, events: events.length });
}

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
