// An in-memory ledger for the engine's unit tests (the service itself always uses PostgreSQL).
import type { Charge, ChargeStore, NewCharge, Refund } from '../../src/app/engine.js';

export class MemoryChargeStore implements ChargeStore {
  private readonly byKey = new Map<string, Charge>();
  private readonly byId = new Map<string, Charge>();
  private readonly refunds = new Map<string, Refund>();

  async findChargeByKey(idempotencyKey: string): Promise<Charge | null> {
    return this.byKey.get(idempotencyKey) ?? null;
  }

  async findChargeById(chargeId: string): Promise<Charge | null> {
    return this.byId.get(chargeId) ?? null;
  }

  async insertCharge(charge: NewCharge): Promise<Charge> {
    const existing = this.byKey.get(charge.idempotencyKey);
    if (existing) return existing;
    const stored: Charge = { ...charge, createdAt: new Date(), refundId: null, refundIdempotencyKey: null, refundedAt: null };
    this.byKey.set(stored.idempotencyKey, stored);
    this.byId.set(stored.id, stored);
    return stored;
  }

  async findRefundByKey(idempotencyKey: string): Promise<Refund | null> {
    return this.refunds.get(idempotencyKey) ?? null;
  }

  async insertRefund(refund: { id: string; chargeId: string; idempotencyKey: string; amountMinor: bigint | null }): Promise<Refund | 'exceeds'> {
    const existing = this.refunds.get(refund.idempotencyKey);
    if (existing) return existing;
    const charge = this.byId.get(refund.chargeId);
    if (!charge) throw new Error(`no charge ${refund.chargeId}`);
    const refundedMinor = [...this.refunds.values()].filter((r) => r.chargeId === charge.id).reduce((sum, r) => sum + r.amountMinor, 0n);
    const remainingMinor = charge.amountMinor - refundedMinor;
    const amountMinor = refund.amountMinor ?? remainingMinor;
    if (amountMinor <= 0n || amountMinor > remainingMinor) return 'exceeds';
    const stored: Refund = { id: refund.id, chargeId: charge.id, idempotencyKey: refund.idempotencyKey, amountMinor, currency: charge.currency, createdAt: new Date() };
    this.refunds.set(stored.idempotencyKey, stored);
    if (amountMinor === remainingMinor) Object.assign(charge, { refundId: stored.id, refundIdempotencyKey: stored.idempotencyKey, refundedAt: new Date() });
    return stored;
  }

  async listCharges(limit: number): Promise<Charge[]> {
    return [...this.byId.values()].reverse().slice(0, limit);
  }
}
