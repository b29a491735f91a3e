// The provider's ledger in PostgreSQL (schema payment_gateway_mock), so a
// charge survives a restart of the mock, as at a real provider.

import type pg from 'pg';
import type { Charge, ChargeStore, NewCharge } from '../app/engine.js';

const TABLE = 'payment_gateway_mock.charges';

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
    createdAt: row.created_at,
    refundId: row.refund_id,
    refundIdempotencyKey: row.refund_idempotency_key,
    refundedAt: row.refunded_at,
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
      `INSERT INTO ${TABLE} (id, idempotency_key, amount_minor, currency, card_last4, card_brand, status, decline_code, refundable)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
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
      ],
    );
    if (inserted.rows[0]) return fromRow(inserted.rows[0]);
    const existing = await this.findChargeByKey(charge.idempotencyKey);
    if (!existing) throw new Error('charge vanished after an idempotency conflict');
    return existing;
  }

  async markRefunded(chargeId: string, refundId: string, refundIdempotencyKey: string): Promise<Charge> {
    const updated = await this.pool.query<ChargeRow>(
      `UPDATE ${TABLE} SET refund_id = $2, refund_idempotency_key = $3, refunded_at = now()
       WHERE id = $1 AND refund_id IS NULL
       RETURNING *`,
      [chargeId, refundId, refundIdempotencyKey],
    );
    if (updated.rows[0]) return fromRow(updated.rows[0]);
    const existing = await this.findChargeById(chargeId);
    if (!existing) throw new Error(`no charge ${chargeId}`);
    return existing;
  }

  async listCharges(limit: number): Promise<Charge[]> {
    const { rows } = await this.pool.query<ChargeRow>(`SELECT * FROM ${TABLE} ORDER BY created_at DESC, id LIMIT $1`, [limit]);
    return rows.map(fromRow);
  }
}
