// The top-up journal in PostgreSQL. Every write is guarded by the worker's
// lease (token + expiry on the database clock) and, for transitions, by the
// expected current state, so two workers can never both act on one top-up.

import type pg from 'pg';
import { isFailureReason } from '../domain/failures.js';
import { noteTransition } from '../tracing.js';
import { assertTransition, isTopUpState, UNFINISHED_STATES, type TopUpRecord, type TopUpState } from '../domain/top-up.js';

const T = 'card_adapter.top_ups';
const TRANSITIONS = 'card_adapter.top_up_transitions';

/** The worker's lease on the row is gone (expired and taken, or the row moved on). */
export class LeaseLostError extends Error {
  constructor(readonly topUpId: string) {
    super(`lost the lease on top-up ${topUpId}`);
    this.name = 'LeaseLostError';
  }
}

interface TopUpRow {
  id: string;
  account_id: string;
  idempotency_key: string;
  request_hash: string;
  amount_minor: string;
  currency: string;
  card_last4: string;
  card_brand: string;
  initiated_by: string | null;
  state: string;
  charge_id: string | null;
  decline_code: string | null;
  failure_reason: string | null;
  failure_message: string | null;
  deposit_id: string | null;
  deposit_error: string | null;
  refund_id: string | null;
  charge_attempts: number;
  deposit_attempts: number;
  refund_attempts: number;
  charge_outcome_unknown: boolean;
  deposit_outcome_unknown: boolean;
  wait_rounds: number;
  reconciled_at: Date | null;
  last_charge_error: string | null;
  last_charge_attempt_at: Date | null;
  created_at: Date;
  updated_at: Date;
  trace_context: string | null;
  lease_held?: boolean;
}

function fromRow(row: TopUpRow): TopUpRecord {
  if (!isTopUpState(row.state)) throw new Error(`unknown top-up state ${row.state}`);
  return {
    id: row.id,
    accountId: row.account_id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    cardLast4: row.card_last4,
    cardBrand: row.card_brand,
    initiatedBy: row.initiated_by,
    state: row.state,
    chargeId: row.charge_id,
    declineCode: row.decline_code,
    failureReason: row.failure_reason && isFailureReason(row.failure_reason) ? row.failure_reason : null,
    failureMessage: row.failure_message,
    depositId: row.deposit_id,
    depositError: row.deposit_error,
    refundId: row.refund_id,
    chargeAttempts: row.charge_attempts,
    depositAttempts: row.deposit_attempts,
    refundAttempts: row.refund_attempts,
    chargeOutcomeUnknown: row.charge_outcome_unknown,
    depositOutcomeUnknown: row.deposit_outcome_unknown,
    waitRounds: row.wait_rounds,
    reconciledAt: row.reconciled_at,
    lastChargeError: row.last_charge_error,
    lastChargeAttemptAt: row.last_charge_attempt_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    traceContext: row.trace_context,
  };
}

/** Columns a worker may change besides the state. */
export interface TopUpPatch {
  chargeId?: string;
  declineCode?: string | null;
  failureReason?: string | null;
  failureMessage?: string | null;
  depositId?: string;
  depositError?: string | null;
  refundId?: string;
  chargeAttempts?: number;
  depositAttempts?: number;
  refundAttempts?: number;
  chargeOutcomeUnknown?: boolean;
  depositOutcomeUnknown?: boolean;
  waitRounds?: number;
  reconciledAt?: Date;
  lastChargeError?: string | null;
  lastChargeAttemptAt?: Date;
}

const PATCH_COLUMNS: Record<keyof TopUpPatch, string> = {
  chargeId: 'charge_id',
  declineCode: 'decline_code',
  failureReason: 'failure_reason',
  failureMessage: 'failure_message',
  depositId: 'deposit_id',
  depositError: 'deposit_error',
  refundId: 'refund_id',
  chargeAttempts: 'charge_attempts',
  depositAttempts: 'deposit_attempts',
  refundAttempts: 'refund_attempts',
  chargeOutcomeUnknown: 'charge_outcome_unknown',
  depositOutcomeUnknown: 'deposit_outcome_unknown',
  waitRounds: 'wait_rounds',
  reconciledAt: 'reconciled_at',
  lastChargeError: 'last_charge_error',
  lastChargeAttemptAt: 'last_charge_attempt_at',
};

export interface NewTopUp {
  id: string;
  accountId: string;
  idempotencyKey: string;
  requestHash: string;
  amountMinor: bigint;
  currency: string;
  cardLast4: string;
  cardBrand: string;
  initiatedBy: string;
  /** The journaling request's traceparent (ids only). */
  traceContext: string | null;
}

export interface ExistingTopUp {
  record: TopUpRecord;
  /** Some worker holds an unexpired lease on it. */
  leaseHeld: boolean;
}

const UNFINISHED = UNFINISHED_STATES as readonly string[];
/** The unfinished states as SQL literals (domain constants, not input). */
const UNFINISHED_SQL = UNFINISHED.map((state) => `'${state}'`).join(', ');
/** Count and age of the oldest unfinished top-up; exported so a test can check the partial index serves it. */
export const UNFINISHED_SUMMARY_SQL = `SELECT count(*) AS n, COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS age
  FROM ${T} WHERE state IN (${UNFINISHED_SQL})`;

export class TopUpRepository {
  constructor(private readonly pool: pg.Pool) {}

  /** Journals a new top-up as RECEIVED, leased to the caller; null if the key is already taken. */
  async insertReceived(topUp: NewTopUp, leaseToken: string, leaseMs: number): Promise<TopUpRecord | null> {
    const { rows } = await this.pool.query<TopUpRow>(
      `WITH inserted AS (
         INSERT INTO ${T} (id, account_id, idempotency_key, request_hash, amount_minor, currency, card_last4, card_brand,
                           initiated_by, trace_context, state, lease_token, lease_until)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $11, $12, 'RECEIVED', $9, now() + make_interval(secs => $10::double precision / 1000))
         ON CONFLICT (account_id, idempotency_key) DO NOTHING
         RETURNING *
       ), audit AS (
         INSERT INTO ${TRANSITIONS} (top_up_id, from_state, to_state) SELECT id, NULL, 'RECEIVED' FROM inserted
       )
       SELECT * FROM inserted`,
      [
        topUp.id,
        topUp.accountId,
        topUp.idempotencyKey,
        topUp.requestHash,
        topUp.amountMinor.toString(),
        topUp.currency,
        topUp.cardLast4,
        topUp.cardBrand,
        leaseToken,
        leaseMs,
        topUp.initiatedBy,
        topUp.traceContext,
      ],
    );
    if (rows[0]) noteTransition(null, 'RECEIVED');
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async findByKey(accountId: string, idempotencyKey: string): Promise<ExistingTopUp | null> {
    const { rows } = await this.pool.query<TopUpRow>(
      `SELECT *, (lease_until IS NOT NULL AND lease_until > now()) AS lease_held
       FROM ${T} WHERE account_id = $1 AND idempotency_key = $2`,
      [accountId, idempotencyKey],
    );
    const row = rows[0];
    return row ? { record: fromRow(row), leaseHeld: row.lease_held === true } : null;
  }

  async findById(id: string): Promise<TopUpRecord | null> {
    const { rows } = await this.pool.query<TopUpRow>(`SELECT * FROM ${T} WHERE id = $1`, [id]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** Takes over one unfinished top-up whose lease has expired; null if someone else holds it. */
  async claim(id: string, leaseToken: string, leaseMs: number): Promise<TopUpRecord | null> {
    const { rows } = await this.pool.query<TopUpRow>(
      `UPDATE ${T}
       SET lease_token = $2, lease_until = now() + make_interval(secs => $3::double precision / 1000)
       WHERE id = $1 AND state = ANY($4::text[]) AND (lease_until IS NULL OR lease_until <= now())
       RETURNING *`,
      [id, leaseToken, leaseMs, UNFINISHED],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /**
   * The recovery loop's claim: the oldest unfinished top-up nobody holds.
   * SKIP LOCKED lets replicas claim side by side without waiting on each other.
   */
  async claimNextUnfinished(leaseToken: string, leaseMs: number, excludeIds: readonly string[]): Promise<TopUpRecord | null> {
    const { rows } = await this.pool.query<TopUpRow>(
      `WITH next AS (
         SELECT id FROM ${T}
         WHERE state = ANY($3::text[])
           AND (lease_until IS NULL OR lease_until <= now())
           AND NOT (id = ANY($4::uuid[]))
         ORDER BY updated_at
         LIMIT 1
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${T} t
       SET lease_token = $1, lease_until = now() + make_interval(secs => $2::double precision / 1000)
       FROM next WHERE t.id = next.id
       RETURNING t.*`,
      [leaseToken, leaseMs, UNFINISHED, excludeIds],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /**
   * Moves the top-up from `from` to `to` with the patch, renewing the lease
   * for the next step (leaseMs) or ending it (final states). Throws
   * LeaseLostError if the caller no longer owns the row in state `from`.
   */
  async transition(
    record: TopUpRecord,
    leaseToken: string,
    to: TopUpState,
    patch: TopUpPatch,
    leaseMs: number,
    detail: Record<string, unknown> = {},
  ): Promise<TopUpRecord> {
    assertTransition(record.state, to);
    const written = await this.write(record, leaseToken, to, patch, leaseMs, detail);
    // Here, where every state change is committed, so no step's span misses one.
    noteTransition(record.state, to);
    return written;
  }

  /** Bookkeeping without a state change (attempt counters, lease renewal). */
  async update(record: TopUpRecord, leaseToken: string, patch: TopUpPatch, leaseMs: number): Promise<TopUpRecord> {
    return this.write(record, leaseToken, undefined, patch, leaseMs, {});
  }

  /**
   * Gives the top-up up to the recovery loop (or a client retry) after
   * delayMs: a durable backoff, since nobody claims it before lease_until.
   */
  async release(record: TopUpRecord, leaseToken: string, delayMs = 0): Promise<void> {
    await this.pool.query(
      `UPDATE ${T} SET lease_until = now() + make_interval(secs => $3::double precision / 1000), lease_token = NULL
       WHERE id = $1 AND lease_token = $2`,
      [record.id, leaseToken, delayMs],
    );
  }

  /**
   * The reconciliation pass's claim: failed top-ups whose charge outcome was once unknown,
   * created within the window, not reconciled, not waiting, oldest check
   * first; at most `limit`, leased so replicas split the batch.
   */
  async claimFailedToReconcile(leaseToken: string, leaseMs: number, windowMs: number, limit: number): Promise<TopUpRecord[]> {
    const { rows } = await this.pool.query<TopUpRow>(
      `WITH next AS (
         SELECT id FROM ${T}
         WHERE state = 'FAILED' AND reconciled_at IS NULL AND charge_outcome_unknown
           AND created_at > now() - make_interval(secs => $3::double precision / 1000)
           AND (lease_until IS NULL OR lease_until <= now())
         ORDER BY updated_at
         LIMIT $4
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${T} t
       SET lease_token = $1, lease_until = now() + make_interval(secs => $2::double precision / 1000)
       FROM next WHERE t.id = next.id
       RETURNING t.*`,
      [leaseToken, leaseMs, windowMs, limit],
    );
    return rows.map(fromRow);
  }

  async countInState(state: TopUpState): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${T} WHERE state = $1`, [state]);
    return Number(rows[0]?.n ?? 0);
  }

  private async write(
    record: TopUpRecord,
    leaseToken: string,
    to: TopUpState | undefined,
    patch: TopUpPatch,
    leaseMs: number,
    detail: Record<string, unknown>,
  ): Promise<TopUpRecord> {
    const sets: string[] = [];
    const values: unknown[] = [record.id, leaseToken, record.state];
    for (const [key, value] of Object.entries(patch) as [keyof TopUpPatch, unknown][]) {
      if (value === undefined) continue;
      values.push(value);
      sets.push(`${PATCH_COLUMNS[key]} = $${values.length}`);
    }
    const finished = to !== undefined && !UNFINISHED.includes(to);
    values.push(to ?? record.state);
    const stateParam = `$${values.length}`;
    sets.push(`state = ${stateParam}`);
    values.push(finished ? 0 : leaseMs);
    sets.push(`lease_until = now() + make_interval(secs => $${values.length}::double precision / 1000)`);
    if (finished) sets.push('finished_at = now()', 'lease_token = NULL');
    sets.push('updated_at = now()');
    let audit = '';
    if (to !== undefined) {
      // Unused parameters have no type in PostgreSQL, so the detail is bound only with a transition.
      values.push(JSON.stringify(detail));
      audit = `, audit AS (INSERT INTO ${TRANSITIONS} (top_up_id, from_state, to_state, detail)
                 SELECT id, $3, ${stateParam}, $${values.length}::jsonb FROM updated)`;
    }
    const { rows } = await this.pool.query<TopUpRow>(
      `WITH updated AS (
         UPDATE ${T} SET ${sets.join(', ')}
         WHERE id = $1 AND lease_token = $2 AND state = $3 AND lease_until > now()
         RETURNING *
       )${audit}
       SELECT * FROM updated`,
      values,
    );
    if (!rows[0]) throw new LeaseLostError(record.id);
    return fromRow(rows[0]);
  }

  /**
   * How many top-ups are unfinished and how old (s, by the database's clock) the
   * oldest is; read on every metrics scrape. The literal states match the
   * partial index top_ups_unfinished, so the cost follows the unfinished rows,
   * not the journal's size.
   */
  async unfinishedSummary(): Promise<{ count: number; oldestAgeSeconds: number }> {
    const { rows } = await this.pool.query<{ n: string; age: number }>(UNFINISHED_SUMMARY_SQL);
    return { count: Number(rows[0]?.n ?? 0), oldestAgeSeconds: Math.max(0, Number(rows[0]?.age ?? 0)) };
  }
}
