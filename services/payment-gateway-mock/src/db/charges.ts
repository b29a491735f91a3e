// The provider's ledger in PostgreSQL (schema payment_gateway_mock), so a
// charge survives a restart of the mock, as at a real provider.

import type pg from 'pg';
import type { Charge, ChargeStore, NewCharge, Refund, RefundFault } from '../app/engine.js';

const TABLE = 'payment_gateway_mock.charges';
const REFUNDS = 'payment_gateway_mock.refunds';

interface ChargeRow {
  id: string;
  idempotency_key: string;
  amount_minor: string;
  currency: string;
  card_last4: string;
  card_brand: string;
  status: 'succeeded' | 'declined';
  decline_code: string | null;
  refundable: boolean;
  refund_fault: RefundFault;
  created_at: Date;
  refund_id: string | null;
  refund_idempotency_key: string | null;
  refunded_at: Date | null;
}

function fromRow(row: ChargeRow): Charge {
  return {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    cardLast4: row.card_last4,
    cardBrand: row.card_brand,
    status: row.status,
    declineCode: row.decline_code,
    refundable: row.refundable,
    refundFault: row.refund_fault,
    createdAt: row.created_at,
    refundId: row.refund_id,
    refundIdempotencyKey: row.refund_idempotency_key,
    refundedAt: row.refunded_at,
  };
}

interface RefundRow {
  id: string;
  charge_id: string;
  idempotency_key: string;
  amount_minor: string;
  currency: string;
  created_at: Date;
}

function refundFromRow(row: RefundRow): Refund {
  return {
    id: row.id,
    chargeId: row.charge_id,
    idempotencyKey: row.idempotency_key,
    amountMinor: BigInt(row.amount_minor),
    currency: row.currency,
    createdAt: row.created_at,
  };
}

export class PgChargeStore implements ChargeStore {
  constructor(private readonly pool: pg.Pool) {}

  async findChargeByKey(idempotencyKey: string): Promise<Charge | null> {
    const { rows } = await this.pool.query<ChargeRow>(`SELECT * FROM ${TABLE} WHERE idempotency_key = $1`, [idempotencyKey]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async findChargeById(chargeId: string): Promise<Charge | null> {
    const { rows } = await this.pool.query<ChargeRow>(`SELECT * FROM ${TABLE} WHERE id = $1`, [chargeId]);
    return rows[0] ? fromRow(rows[0]) : null;
  }

  async insertCharge(charge: NewCharge): Promise<Charge> {
    // ON CONFLICT on the key: two concurrent charges with one key make one charge.
    const inserted = await this.pool.query<ChargeRow>(
      `INSERT INTO ${TABLE} (id, idempotency_key, amount_minor, currency, card_last4, card_brand, status, decline_code, refundable, refund_fault)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (idempotency_key) DO NOTHING
       RETURNING *`,
      [
        charge.id,
        charge.idempotencyKey,
        charge.amountMinor.toString(),
        charge.currency,
        charge.cardLast4,
        charge.cardBrand,
        charge.status,
        charge.declineCode,
        charge.refundable,
        charge.refundFault,
      ],
    );
    if (inserted.rows[0]) return fromRow(inserted.rows[0]);
    const existing = await this.findChargeByKey(charge.idempotencyKey);
    if (!existing) throw new Error('charge vanished after an idempotency conflict');
    return existing;
  }

  async findRefundByKey(idempotencyKey: string): Promise<Refund | null> {
    const { rows } = await this.pool.query<RefundRow>(`SELECT * FROM ${REFUNDS} WHERE idempotency_key = $1`, [idempotencyKey]);
    return rows[0] ? refundFromRow(rows[0]) : null;
  }

  async insertRefund(refund: { id: string; chargeId: string; idempotencyKey: string; amountMinor: bigint | null }): Promise<Refund | 'exceeds'> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      // The charge's row lock serialises its refunds: what remains is read under it.
      const { rows: charges } = await client.query<{ amount_minor: string; currency: string; refunded: string }>(
        `SELECT c.amount_minor, c.currency, (SELECT coalesce(sum(r.amount_minor), 0) FROM ${REFUNDS} r WHERE r.charge_id = c.id)::text AS refunded
           FROM ${TABLE} c WHERE c.id = $1 FOR UPDATE`,
        [refund.chargeId],
      );
      const charge = charges[0];
      if (!charge) throw new Error(`no charge ${refund.chargeId}`);
      const existing = await client.query<RefundRow>(`SELECT * FROM ${REFUNDS} WHERE idempotency_key = $1`, [refund.idempotencyKey]);
      if (existing.rows[0]) {
        await client.query('COMMIT');
        return refundFromRow(existing.rows[0]);
      }
      const remainingMinor = BigInt(charge.amount_minor) - BigInt(charge.refunded);
      const amountMinor = refund.amountMinor ?? remainingMinor;
      if (amountMinor <= 0n || amountMinor > remainingMinor) {
        await client.query('ROLLBACK');
        return 'exceeds';
      }
      const { rows } = await client.query<RefundRow>(
        `INSERT INTO ${REFUNDS} (id, charge_id, idempotency_key, amount_minor, currency) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
        [refund.id, refund.chargeId, refund.idempotencyKey, amountMinor.toString(), charge.currency],
      );
      if (amountMinor === remainingMinor) {
        await client.query(`UPDATE ${TABLE} SET refund_id = $2, refund_idempotency_key = $3, refunded_at = now() WHERE id = $1`, [refund.chargeId, refund.id, refund.idempotencyKey]);
      }
      await client.query('COMMIT');
      return refundFromRow(rows[0] as RefundRow);
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async listCharges(limit: number): Promise<Charge[]> {
    const { rows } = await this.pool.query<ChargeRow>(`SELECT * FROM ${TABLE} ORDER BY created_at DESC, id LIMIT $1`, [limit]);
    return rows.map(fromRow);
  }
}
