// The refund journal (card_adapter.top_up_refunds). Like the top-up journal:
// every write is guarded by the worker's lease (token + expiry on the
// database clock) and, for transitions, by the expected current state, so two
// workers never both act on one refund.

import type pg from 'pg';
import { LeaseLostError } from './top-ups.js';
import { canRefundTransition, isRefundState, UNFINISHED_REFUND_STATES, type RefundRecord, type RefundState } from '../domain/refund.js';

const T = 'card_adapter.top_up_refunds';
const TRANSITIONS = 'card_adapter.top_up_refund_transitions';
/** GetTopUpRefund by top-up answers at most this many (oldest first). */
export const REFUNDS_PER_TOP_UP_MAX = 100;

interface RefundRow {
  id: string;
  top_up_id: string;
  account_id: string;
  idempotency_key: string;
  request_hash: string;
  amount_minor: string;
  currency: string;
  initiated_by: string;
  state: string;
  failure_reason: string | null;
  failure_message: string | null;
  gateway_refund_id: string | null;
  debit_attempts: number;
  card_attempts: number;
  wait_rounds: number;
  created_at: Date;
  updated_at: Date;
  lease_held?: boolean;
}

function fromRow(row: RefundRow): RefundRecord {
  if (!isRefundState(row.state)) throw new Error(`unknown refund state ${row.state}`);
  return {
    id: row.id,
    topUpId: row.top_up_id,
    accountId: row.account_id,
    idempotencyKey: row.idempotency_key,
    requestHash: row.request_hash,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    initiatedBy: row.initiated_by,
    state: row.state,
    failureReason: row.failure_reason,
    failureMessage: row.failure_message,
    gatewayRefundId: row.gateway_refund_id,
    debitAttempts: row.debit_attempts,
    cardAttempts: row.card_attempts,
    waitRounds: row.wait_rounds,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface RefundPatch {
  failureReason?: string;
  failureMessage?: string;
  gatewayRefundId?: string;
  debitAttempts?: number;
  cardAttempts?: number;
  waitRounds?: number;
}

const PATCH_COLUMNS: Record<keyof RefundPatch, string> = {
  failureReason: 'failure_reason',
  failureMessage: 'failure_message',
  gatewayRefundId: 'gateway_refund_id',
  debitAttempts: 'debit_attempts',
  cardAttempts: 'card_attempts',
  waitRounds: 'wait_rounds',
};

export interface NewRefund {
  id: string;
  topUpId: string;
  accountId: string;
  idempotencyKey: string;
  requestHash: string;
  amountMinor: bigint;
  currency: string;
  initiatedBy: string;
  traceContext: string | null;
}

const UNFINISHED = UNFINISHED_REFUND_STATES as readonly string[];

export class RefundRepository {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Journals a new refund as DEBITING, leased to the caller, unless the key is
   * taken (null). Serialised per top-up by its journal row lock, so the
   * amount check (Σ of the top-up's refunds that did not fail, read under it)
   * cannot race another refund of the same top-up: `amountOf` decides.
   */
  async insertDebiting(
    refund: Omit<NewRefund, 'amountMinor'>,
    amountOf: (refundedMinor: bigint) => { ok: true; amountMinor: bigint } | { ok: false; remainingMinor: bigint },
    leaseToken: string,
    leaseMs: number,
  ): Promise<{ inserted: RefundRecord } | { exists: true } | { remainingMinor: bigint }> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('SELECT 1 FROM card_adapter.top_ups WHERE id = $1 FOR UPDATE', [refund.topUpId]);
      const taken = await client.query('SELECT 1 FROM card_adapter.top_up_refunds WHERE top_up_id = $1 AND idempotency_key = $2', [refund.topUpId, refund.idempotencyKey]);
      if (taken.rows.length > 0) {
        await client.query('ROLLBACK');
        return { exists: true };
      }
      const { rows: sums } = await client.query<{ refunded: string }>(
        `SELECT coalesce(sum(amount_minor), 0)::text AS refunded FROM ${T} WHERE top_up_id = $1 AND state <> 'FAILED'`,
        [refund.topUpId],
      );
      const amount = amountOf(BigInt(sums[0]?.refunded ?? '0'));
      if (!amount.ok) {
        await client.query('ROLLBACK');
        return { remainingMinor: amount.remainingMinor };
      }
      const { rows } = await client.query<RefundRow>(
        `WITH inserted AS (
           INSERT INTO ${T} (id, top_up_id, account_id, idempotency_key, request_hash, amount_minor, currency, initiated_by, trace_context,
                             state, lease_token, lease_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'DEBITING', $10, now() + make_interval(secs => $11::double precision / 1000))
           RETURNING *
         ), audit AS (
           INSERT INTO ${TRANSITIONS} (refund_id, from_state, to_state) SELECT id, NULL, 'DEBITING' FROM inserted
         )
         SELECT * FROM inserted`,
        [
          refund.id,
          refund.topUpId,
          refund.accountId,
          refund.idempotencyKey,
          refund.requestHash,
          amount.amountMinor.toString(),
          refund.currency,
          refund.initiatedBy,
          refund.traceContext,
          leaseToken,
          leaseMs,
        ],
      );
      await client.query('COMMIT');
      return { inserted: fromRow(rows[0] as RefundRow) };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async findByKey(topUpId: string, idempotencyKey: string): Promise<{ record: RefundRecord; leaseHeld: boolean } | null> {
    const { rows } = await this.pool.query<RefundRow>(
      `SELECT *, (lease_until IS NOT NULL AND lease_until > now()) AS lease_held FROM ${T} WHERE top_up_id = $1 AND idempotency_key = $2`,
      [topUpId, idempotencyKey],
    );
    return rows[0] ? { record: fromRow(rows[0]), leaseHeld: rows[0].lease_held === true } : null;
  }

  async findById(id: string): Promise<RefundRecord | null> {
    const { rows } = await this.pool.query<RefundRow>(`SELECT * FROM ${T} WHERE id = $1`, [id]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async listByTopUp(topUpId: string): Promise<RefundRecord[]> {
    const { rows } = await this.pool.query<RefundRow>(`SELECT * FROM ${T} WHERE top_up_id = $1 ORDER BY created_at, id LIMIT $2`, [topUpId, REFUNDS_PER_TOP_UP_MAX]);
    return rows.map(fromRow);
  }

  /** Takes over an unfinished refund whose lease has expired; null if someone holds it. */
  async claim(id: string, leaseToken: string, leaseMs: number): Promise<RefundRecord | null> {
    const { rows } = await this.pool.query<RefundRow>(
      `UPDATE ${T} SET lease_token = $2, lease_until = now() + make_interval(secs => $3::double precision / 1000)
       WHERE id = $1 AND state = ANY($4::text[]) AND (lease_until IS NULL OR lease_until <= now())
       RETURNING *`,
      [id, leaseToken, leaseMs, UNFINISHED],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  /** The recovery loop's claim: the oldest unfinished refund nobody holds (SKIP LOCKED: replicas claim side by side). */
  async claimNextUnfinished(leaseToken: string, leaseMs: number, excludeIds: readonly string[]): Promise<RefundRecord | null> {
    const { rows } = await this.pool.query<RefundRow>(
      `WITH next AS (
         SELECT id FROM ${T}
         WHERE state = ANY($3::text[]) AND (lease_until IS NULL OR lease_until <= now()) AND NOT (id = ANY($4::uuid[]))
         ORDER BY updated_at LIMIT 1 FOR UPDATE SKIP LOCKED
       )
       UPDATE ${T} r SET lease_token = $1, lease_until = now() + make_interval(secs => $2::double precision / 1000)
       FROM next WHERE r.id = next.id
       RETURNING r.*`,
      [leaseToken, leaseMs, UNFINISHED, excludeIds],
    );
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async transition(record: RefundRecord, leaseToken: string, to: RefundState, patch: RefundPatch, leaseMs: number, detail: Record<string, unknown> = {}): Promise<RefundRecord> {
    if (!canRefundTransition(record.state, to)) throw new Error(`refund cannot go from ${record.state} to ${to}`);
    return this.write(record, leaseToken, to, patch, leaseMs, detail);
  }

  async update(record: RefundRecord, leaseToken: string, patch: RefundPatch, leaseMs: number): Promise<RefundRecord> {
    return this.write(record, leaseToken, undefined, patch, leaseMs, {});
  }

  /** Hands the refund to the recovery loop after delayMs (a durable backoff). */
  async release(record: RefundRecord, leaseToken: string, delayMs: number): Promise<void> {
    await this.pool.query(
      `UPDATE ${T} SET lease_until = now() + make_interval(secs => $3::double precision / 1000), lease_token = NULL WHERE id = $1 AND lease_token = $2`,
      [record.id, leaseToken, delayMs],
    );
  }

  async countUnfinished(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${T} WHERE state IN ('DEBITING', 'DEBITED', 'CANCELLING')`);
    return Number(rows[0]?.n ?? 0);
  }

  private async write(record: RefundRecord, leaseToken: string, to: RefundState | undefined, patch: RefundPatch, leaseMs: number, detail: Record<string, unknown>): Promise<RefundRecord> {
    const sets: string[] = [];
    const values: unknown[] = [record.id, leaseToken, record.state];
    for (const [key, value] of Object.entries(patch) as [keyof RefundPatch, unknown][]) {
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
      values.push(JSON.stringify(detail));
      audit = `, audit AS (INSERT INTO ${TRANSITIONS} (refund_id, from_state, to_state, detail) SELECT id, $3, ${stateParam}, $${values.length}::jsonb FROM updated)`;
    }
    const { rows } = await this.pool.query<RefundRow>(
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
}
