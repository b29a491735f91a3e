// The ledger's write statements (balances, records, entries, outbox rows),
// shared by transfers and deposits. Each function is one round trip; writes
// take arrays, so one statement writes one transfer or a whole batch.
import type pg from 'pg';
import type {
  AccountKind,
  AccountState,
  AccountUpdate,
  DepositPlan,
  OutboxEvent,
  Posting,
  TransferPlan,
} from '../domain/ledger.js';
import { InvariantViolation } from '../domain/ledger.js';

export type Queryable = Pick<pg.PoolClient, 'query'>;

/** The account columns of a context row (a_*). */
export interface AccountRow {
  a_id: string | null;
  a_kind: AccountKind | null;
  a_currency: string | null;
  a_balance_minor: bigint | null;
  a_version: bigint | null;
  a_pending_out_minor: bigint | null;
  a_overdraft_limit_minor: bigint | null;
  a_daily_limit_minor: bigint | null;
  a_monthly_limit_minor: bigint | null;
  a_time_zone: string | null;
  a_spent_day: string | null;
  a_spent_day_minor: bigint | null;
  a_spent_month: string | null;
  a_spent_month_minor: bigint | null;
}

/**
 * The select list of an AccountRow from bank.accounts under `alias` (every
 * context query that locks accounts for a movement selects exactly this).
 * Dates as text: the windows are local calendar days, never instants.
 */
export function accountStateColumns(alias: string): string {
  return `${alias}.id AS a_id, ${alias}.kind AS a_kind, ${alias}.currency::text AS a_currency, ${alias}.balance_minor AS a_balance_minor,
       ${alias}.version AS a_version, ${alias}.pending_out_minor AS a_pending_out_minor,
       ${alias}.overdraft_limit_minor AS a_overdraft_limit_minor, ${alias}.daily_limit_minor AS a_daily_limit_minor,
       ${alias}.monthly_limit_minor AS a_monthly_limit_minor, ${alias}.time_zone AS a_time_zone,
       to_char(${alias}.spent_day, 'YYYY-MM-DD') AS a_spent_day, ${alias}.spent_day_minor AS a_spent_day_minor,
       to_char(${alias}.spent_month, 'YYYY-MM-DD') AS a_spent_month, ${alias}.spent_month_minor AS a_spent_month_minor`;
}

/** The same columns as NULLs of the right types (for UNION ALL rows that carry no account). */
export const NULL_ACCOUNT_STATE_COLUMNS = `NULL::uuid AS a_id, NULL::text AS a_kind, NULL::text AS a_currency, NULL::bigint AS a_balance_minor,
       NULL::bigint AS a_version, NULL::bigint AS a_pending_out_minor, NULL::bigint AS a_overdraft_limit_minor,
       NULL::bigint AS a_daily_limit_minor, NULL::bigint AS a_monthly_limit_minor, NULL::text AS a_time_zone,
       NULL::text AS a_spent_day, NULL::bigint AS a_spent_day_minor, NULL::text AS a_spent_month, NULL::bigint AS a_spent_month_minor`;

// Shared parts of the write statements: balances (guarded by the version read
// under lock), ledger entries and outbox rows, all from arrays. WITH
// ORDINALITY + ORDER BY keeps entry and event ids in decision order.
// $<spendParam>..+3: the spending counters (ADR 0016), written with the balance.
const updateAccounts = (spendParam: number) => `
  acc AS (
    UPDATE bank.accounts AS a
       SET balance_minor = u.balance_minor, version = a.version + 1, updated_at = $3,
           spent_day = u.spent_day::date, spent_day_minor = u.spent_day_minor,
           spent_month = u.spent_month::date, spent_month_minor = u.spent_month_minor
      FROM unnest($1::uuid[], $2::bigint[], $4::bigint[], $${spendParam}::text[], $${spendParam + 1}::bigint[],
                  $${spendParam + 2}::text[], $${spendParam + 3}::bigint[])
           AS u (id, balance_minor, expected_version, spent_day, spent_day_minor, spent_month, spent_month_minor)
     WHERE a.id = u.id AND a.version = u.expected_version
    RETURNING a.id
  )`;

// $<traceParam>: each row's trace context (the traceparent of the request that caused it, or NULL).
const insertOutbox = (traceParam: number) => `
  ob AS (
    INSERT INTO bank.outbox (account_id, event_type, payload, created_at, trace_context)
    SELECT account_id, event_type, payload, created_at, trace_context
      FROM unnest($5::uuid[], $6::text[], $7::jsonb[], $8::timestamptz[], $${traceParam}::text[])
           WITH ORDINALITY AS x (account_id, event_type, payload, created_at, trace_context, n)
     ORDER BY n
    RETURNING id
  )`;

const TRANSFER_WRITE_SQL = `
WITH ${updateAccounts(25)},
  tr AS (
    INSERT INTO bank.transfers (id, sender_account_id, recipient_account_id, amount_minor, currency, status,
                                description, idempotency_key, request_hash, created_at, initiated_by)
    SELECT id, sender, recipient, amount_minor, currency, 'completed', description, idempotency_key, request_hash, created_at,
           initiated_by
      FROM unnest($9::uuid[], $10::uuid[], $11::uuid[], $12::bigint[], $13::text[], $14::text[], $15::text[],
                  $16::text[], $17::timestamptz[], $23::text[])
           AS t (id, sender, recipient, amount_minor, currency, description, idempotency_key, request_hash, created_at,
                 initiated_by)
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
  ${insertOutbox(24)}
SELECT (SELECT count(*) FROM acc) AS accounts, (SELECT count(*) FROM tr) AS records,
       (SELECT count(*) FROM le) AS entries, (SELECT count(*) FROM ob) AS events`;

const DEPOSIT_WRITE_SQL = `
WITH ${updateAccounts(26)},
  dp AS (
    INSERT INTO bank.deposits (id, account_id, amount_minor, currency, deposit_reference, top_up_id, card_last4,
                               card_brand, request_hash, created_at, initiated_by)
    SELECT * FROM unnest($9::uuid[], $10::uuid[], $11::bigint[], $12::text[], $13::text[], $14::uuid[], $15::text[],
                         $16::text[], $17::text[], $18::timestamptz[], $24::text[])
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
  ${insertOutbox(25)}
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

function spendParams(updates: AccountUpdate[]): unknown[] {
  return [
    updates.map((u) => u.spentDay),
    updates.map((u) => u.spentDayMinor.toString()),
    updates.map((u) => u.spentMonth),
    updates.map((u) => u.spentMonthMinor.toString()),
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

/**
 * One trace context per plan (same order), or none: every outbox row of a plan
 * carries its own request's traceparent, also when one statement writes a
 * whole batch of requests.
 */
export function eventTraceContexts(plans: ReadonlyArray<{ events: readonly unknown[] }>, traceContexts: ReadonlyArray<string | null> | undefined): Array<string | null> {
  if (traceContexts && traceContexts.length !== plans.length) {
    throw new InvariantViolation(`${traceContexts.length} trace contexts for ${plans.length} plans`);
  }
  return plans.flatMap((plan, i) => plan.events.map(() => traceContexts?.[i] ?? null));
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

/** The account states of context rows that carry one. */
export function accountsFrom(rows: AccountRow[]): AccountState[] {
  return rows
    .filter((r) => r.a_id !== null)
    .map((r) => ({
      id: r.a_id!,
      kind: r.a_kind!,
      currency: r.a_currency!,
      balanceMinor: r.a_balance_minor!,
      version: r.a_version!,
      pendingOutMinor: r.a_pending_out_minor!,
      overdraftLimitMinor: r.a_overdraft_limit_minor!,
      dailyLimitMinor: r.a_daily_limit_minor,
      monthlyLimitMinor: r.a_monthly_limit_minor,
      timeZone: r.a_time_zone!,
      spentDay: r.a_spent_day,
      spentDayMinor: r.a_spent_day_minor!,
      spentMonth: r.a_spent_month,
      spentMonthMinor: r.a_spent_month_minor!,
    }));
}

/**
 * Writes balances, transfers, two ledger entries per transfer and their outbox events: one statement.
 * `traceContexts`: the traceparent of each plan's request (same order as `plans`), stored in its outbox rows.
 */
export async function writeTransfers(
  db: Queryable,
  plans: TransferPlan[],
  updates: AccountUpdate[],
  updatedAt: Date,
  traceContexts?: ReadonlyArray<string | null>,
): Promise<void> {
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
      transfers.map((t) => t.initiatedBy),
      eventTraceContexts(plans, traceContexts),
      ...spendParams(updates),
    ],
  });
  checkCounts(rows[0], { accounts: updates.length, records: plans.length, entries: entries.length, events: events.length });
}

/** Writes balances, deposits, their ledger entries and topup events: one statement. */
export async function writeDeposits(
  db: Queryable,
  plans: DepositPlan[],
  updates: AccountUpdate[],
  updatedAt: Date,
  traceContexts?: ReadonlyArray<string | null>,
): Promise<void> {
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
      deposits.map((d) => d.initiatedBy),
      eventTraceContexts(plans, traceContexts),
      ...spendParams(updates),
    ],
  });
  checkCounts(rows[0], { accounts: updates.length, records: plans.length, entries: entries.length, events: events.length });
}

