// The mock payment provider itself, shared by the in-process client and the
// HTTP server. Charges and refunds are idempotent by key; the store is the
// provider's ledger, which tests read to assert "charged once" / "refunded".

import { randomBytes } from 'node:crypto';
import { detectBrand, last4 } from '../domain/card.js';
import type { GatewayFailureKind } from '../domain/saga.js';
import type { ChargeRequest, ChargeResult, RefundRequest, RefundResult } from '../clients/payment-gateway/types.js';
import { testCardBehaviour } from './test-cards.js';

export interface MockCharge {
  id: string;
  idempotencyKey: string;
  amountMinor: bigint;
  currency: string;
  cardLast4: string;
  cardBrand: string;
  status: 'succeeded' | 'declined';
  declineCode: string | null;
  createdAt: Date;
  refundId: string | null;
  refundIdempotencyKey: string | null;
  refundedAt: Date | null;
}

export type NewMockCharge = Omit<MockCharge, 'createdAt' | 'refundId' | 'refundIdempotencyKey' | 'refundedAt'>;

/** The mock's ledger. Implementations must make both writes atomic per key / per charge. */
export interface MockGatewayStore {
  findChargeByKey(idempotencyKey: string): Promise<MockCharge | null>;
  findChargeById(chargeId: string): Promise<MockCharge | null>;
  /** Inserts the charge unless one with the same idempotency key exists; returns the stored one either way. */
  insertCharge(charge: NewMockCharge): Promise<MockCharge>;
  /** Marks the charge refunded unless it already is; returns the stored charge either way. */
  markRefunded(chargeId: string, refundId: string, refundIdempotencyKey: string): Promise<MockCharge>;
  /** Most recent first, at most `limit`. */
  listCharges(limit: number): Promise<MockCharge[]>;
}

/**
 * A simulated failure. `kind` says what the caller can conclude; `hang`
 * failures are only raised once the caller gave up (its signal aborted).
 */
export class MockGatewayFault extends Error {
  constructor(
    readonly kind: GatewayFailureKind,
    readonly code: string,
    message: string,
    /** HTTP: drop the connection instead of answering. */
    readonly dropConnection = false,
  ) {
    super(message);
    this.name = 'MockGatewayFault';
  }
}

export interface MockGatewayOptions {
  latencyMs: number;
  /** Probability (0..1) that a call fails with a processing error before doing anything. */
  failureRate: number;
  seed: number;
}

/** mulberry32: a tiny seeded PRNG, so a failure rate replays identically for a given seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

/** Resolves after ms, or rejects as soon as the signal aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(abortFault()) : Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortFault());
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Never resolves; rejects when the caller gives up. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    if (signal.aborted) reject(abortFault());
    else signal.addEventListener('abort', () => reject(abortFault()), { once: true });
  });
}

function abortFault(): MockGatewayFault {
  return new MockGatewayFault('timeout', 'caller_gave_up', 'the caller stopped waiting');
}

function toResult(charge: MockCharge): ChargeResult {
  return charge.status === 'succeeded'
    ? { chargeId: charge.id, status: 'succeeded' }
    : { chargeId: charge.id, status: 'declined', declineCode: charge.declineCode ?? 'generic_decline' };
}

export class MockPaymentGatewayEngine {
  private readonly random: () => number;

  constructor(
    readonly store: MockGatewayStore,
    private readonly options: MockGatewayOptions,
  ) {
    this.random = seededRandom(options.seed);
  }

  private injectedFailure(): boolean {
    return this.options.failureRate > 0 && this.random() < this.options.failureRate;
  }

  async charge(request: ChargeRequest, signal: AbortSignal): Promise<ChargeResult> {
    await delay(this.options.latencyMs, signal);
    const digits = request.card.number;
    const existing = await this.store.findChargeByKey(request.idempotencyKey);
    if (existing) return this.replay(existing, request);
    if (this.injectedFailure()) {
      throw new MockGatewayFault('not_processed', 'processing_error', 'simulated gateway failure; nothing was charged');
    }
    const behaviour = testCardBehaviour(digits);
    if (behaviour.kind === 'timeout') return hang(signal);
    if (behaviour.kind === 'processing_error') {
      throw new MockGatewayFault('not_processed', 'processing_error', 'the gateway could not process the charge; nothing was charged');
    }
    const chargeId = newId('ch');
    const stored = await this.store.insertCharge({
      id: chargeId,
      idempotencyKey: request.idempotencyKey,
      amountMinor: request.amountMinor,
      currency: request.currency,
      cardLast4: last4(digits),
      cardBrand: detectBrand(digits),
      status: behaviour.kind === 'decline' ? 'declined' : 'succeeded',
      declineCode: behaviour.kind === 'decline' ? behaviour.declineCode : null,
    });
    // A concurrent request with the same key may have won the insert: answer with its charge.
    if (stored.id !== chargeId) return this.replay(stored, request);
    if (behaviour.kind === 'charge_then_fail') {
      throw new MockGatewayFault('unknown', 'connection_reset', 'the connection dropped after the charge', true);
    }
    if (behaviour.kind === 'charge_then_timeout') return hang(signal);
    return toResult(stored);
  }

  private replay(existing: MockCharge, request: ChargeRequest): ChargeResult {
    if (
      existing.amountMinor !== request.amountMinor ||
      existing.currency !== request.currency ||
      existing.cardLast4 !== last4(request.card.number)
    ) {
      throw new MockGatewayFault('rejected', 'idempotency_key_reused', 'this idempotency key was used for a different charge');
    }
    return toResult(existing);
  }

  async findCharge(idempotencyKey: string, signal: AbortSignal): Promise<ChargeResult | null> {
    await delay(this.options.latencyMs, signal);
    const charge = await this.store.findChargeByKey(idempotencyKey);
    return charge ? toResult(charge) : null;
  }

  async refund(request: RefundRequest, signal: AbortSignal): Promise<RefundResult> {
    await delay(this.options.latencyMs, signal);
    const charge = await this.store.findChargeById(request.chargeId);
    if (!charge) throw new MockGatewayFault('rejected', 'charge_not_found', `no charge ${request.chargeId}`);
    if (charge.status !== 'succeeded') throw new MockGatewayFault('rejected', 'charge_not_refundable', 'a declined charge has nothing to refund');
    if (charge.refundId) return { refundId: charge.refundId, chargeId: charge.id, status: 'succeeded' };
    if (this.injectedFailure()) {
      throw new MockGatewayFault('not_processed', 'processing_error', 'simulated gateway failure; nothing was refunded');
    }
    const refunded = await this.store.markRefunded(charge.id, newId('re'), request.idempotencyKey);
    return { refundId: refunded.refundId as string, chargeId: refunded.id, status: 'succeeded' };
  }
}

/** An in-memory ledger (the HTTP mock server's default, and unit tests). */
export class MemoryMockGatewayStore implements MockGatewayStore {
  private readonly byKey = new Map<string, MockCharge>();
  private readonly byId = new Map<string, MockCharge>();

  async findChargeByKey(idempotencyKey: string): Promise<MockCharge | null> {
    return this.byKey.get(idempotencyKey) ?? null;
  }

  async findChargeById(chargeId: string): Promise<MockCharge | null> {
    return this.byId.get(chargeId) ?? null;
  }

  async insertCharge(charge: NewMockCharge): Promise<MockCharge> {
    const existing = this.byKey.get(charge.idempotencyKey);
    if (existing) return existing;
    const stored: MockCharge = { ...charge, createdAt: new Date(), refundId: null, refundIdempotencyKey: null, refundedAt: null };
    this.byKey.set(stored.idempotencyKey, stored);
    this.byId.set(stored.id, stored);
    return stored;
  }

  async markRefunded(chargeId: string, refundId: string, refundIdempotencyKey: string): Promise<MockCharge> {
    const charge = this.byId.get(chargeId);
    if (!charge) throw new MockGatewayFault('rejected', 'charge_not_found', `no charge ${chargeId}`);
    if (!charge.refundId) {
      charge.refundId = refundId;
      charge.refundIdempotencyKey = refundIdempotencyKey;
      charge.refundedAt = new Date();
    }
    return charge;
  }

  async listCharges(limit: number): Promise<MockCharge[]> {
    return [...this.byId.values()].reverse().slice(0, limit);
  }
}
