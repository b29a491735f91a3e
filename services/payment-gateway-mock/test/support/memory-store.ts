// An in-memory ledger for the engine's unit tests (the service itself always uses PostgreSQL).
import type { Charge, ChargeStore, NewCharge } from '../../src/app/engine.js';

export class MemoryChargeStore implements ChargeStore {
  private readonly byKey = new Map<string, Charge>();
  private readonly byId = new Map<string, Charge>();

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

  async markRefunded(chargeId: string, refundId: string, refundIdempotencyKey: string): Promise<Charge> {
    const charge = this.byId.get(chargeId);
    if (!charge) throw new Error(`no charge ${chargeId}`);
    if (!charge.refundId) Object.assign(charge, { refundId, refundIdempotencyKey, refundedAt: new Date() });
    return charge;
  }

  async listCharges(limit: number): Promise<Charge[]> {
    return [...this.byId.values()].reverse().slice(0, limit);
  }
}
