// The mock provider's behaviour: charges, lookups and refunds, idempotent by
// key, with test-card behaviours and injected failures. The store is the
// provider's ledger, which tests read to assert "charged once" / "refunded".

import { randomBytes } from 'node:crypto';
import { detectBrand, last4 } from '../domain/card.js';
import { GatewayFault } from '../domain/faults.js';
import { seededRandom } from '../domain/random.js';
import { testCardBehaviour } from '../domain/test-cards.js';

export interface ChargeRequest {
  idempotencyKey: string;
  amountMinor: bigint;
  currency: string;
  card: { number: string; expiryMonth: number; expiryYear: number; cvc: string };
}

export interface ChargeResult {
  chargeId: string;
  status: 'succeeded' | 'declined';
  declineCode?: string;
}

export interface RefundRequest {
  chargeId: string;
  idempotencyKey: string;
}

export interface RefundResult {
  refundId: string;
  chargeId: string;
  status: 'succeeded';
}

export interface Charge {
  id: string;
  idempotencyKey: string;
  amountMinor: bigint;
  currency: string;
  cardLast4: string;
  cardBrand: string;
  status: 'succeeded' | 'declined';
  declineCode: string | null;
  refundable: boolean;
  createdAt: Date;
  refundId: string | null;
  refundIdempotencyKey: string | null;
  refundedAt: Date | null;
}

export type NewCharge = Omit<Charge, 'createdAt' | 'refundId' | 'refundIdempotencyKey' | 'refundedAt'>;

/** The provider's ledger. Implementations make each write atomic per key / per charge. */
export interface ChargeStore {
  findChargeByKey(idempotencyKey: string): Promise<Charge | null>;
  findChargeById(chargeId: string): Promise<Charge | null>;
  /** Inserts the charge unless one with the same idempotency key exists; returns the stored one either way. */
  insertCharge(charge: NewCharge): Promise<Charge>;
  /** Marks the charge refunded unless it already is; returns the stored charge either way. */
  markRefunded(chargeId: string, refundId: string, refundIdempotencyKey: string): Promise<Charge>;
  /** Most recent first, at most `limit`. */
  listCharges(limit: number): Promise<Charge[]>;
}

export interface EngineOptions {
  latencyMs: number;
  /** Probability (0..1) that a call fails with a processing error before doing anything. */
  failureRate: number;
  seed: number;
  /** How long after the call the "charge late" test card's charge lands. */
  lateChargeDelayMs: number;
}

function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

function abortFault(): GatewayFault {
  return new GatewayFault('timeout', 'caller_gave_up', 'the caller stopped waiting');
}

/** Resolves after ms, or rejects as soon as the signal aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(abortFault()) : Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortFault());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
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

function toResult(charge: Charge): ChargeResult {
  return charge.status === 'succeeded'
    ? { chargeId: charge.id, status: 'succeeded' }
    : { chargeId: charge.id, status: 'declined', declineCode: charge.declineCode ?? 'generic_decline' };
}

export class PaymentGatewayEngine {
  private readonly random: () => number;
  /** Late charges not landed yet; bounded by the callers' rate, cleared on close. */
  private readonly lateCharges = new Set<NodeJS.Timeout>();

  constructor(
    readonly store: ChargeStore,
    private readonly options: EngineOptions,
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
    if (this.injectedFailure()) throw new GatewayFault('not_processed', 'processing_error', 'simulated gateway failure; nothing was charged');
    const behaviour = testCardBehaviour(digits);
    if (behaviour.kind === 'timeout') return hang(signal);
    if (behaviour.kind === 'processing_error') {
      throw new GatewayFault('not_processed', 'processing_error', 'the gateway could not process the charge; nothing was charged');
    }
    const charge: NewCharge = {
      id: newId('ch'),
      idempotencyKey: request.idempotencyKey,
      amountMinor: request.amountMinor,
      currency: request.currency,
      cardLast4: last4(digits),
      cardBrand: detectBrand(digits),
      status: behaviour.kind === 'decline' ? 'declined' : 'succeeded',
      declineCode: behaviour.kind === 'decline' ? behaviour.declineCode : null,
      refundable: behaviour.kind !== 'refund_declined',
    };
    if (behaviour.kind === 'charge_late') {
      this.landLater(charge);
      return hang(signal);
    }
    const stored = await this.store.insertCharge(charge);
    // A concurrent request with the same key may have won the insert: answer with its charge.
    if (stored.id !== charge.id) return this.replay(stored, request);
    if (behaviour.kind === 'charge_then_fail') throw new GatewayFault('unknown', 'connection_reset', 'the connection dropped after the charge', true);
    if (behaviour.kind === 'charge_then_timeout') return hang(signal);
    return toResult(stored);
  }

  private landLater(charge: NewCharge): void {
    const timer = setTimeout(() => {
      this.lateCharges.delete(timer);
      this.store.insertCharge(charge).catch(() => undefined);
    }, this.options.lateChargeDelayMs);
    this.lateCharges.add(timer);
  }

  private replay(existing: Charge, request: ChargeRequest): ChargeResult {
    if (existing.amountMinor !== request.amountMinor || existing.currency !== request.currency || existing.cardLast4 !== last4(request.card.number)) {
      throw new GatewayFault('rejected', 'idempotency_key_reused', 'this idempotency key was used for a different charge');
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
    if (!charge) throw new GatewayFault('rejected', 'charge_not_found', `no charge ${request.chargeId}`);
    if (charge.status !== 'succeeded') throw new GatewayFault('rejected', 'charge_not_refundable', 'a declined charge has nothing to refund');
    if (charge.refundId) return { refundId: charge.refundId, chargeId: charge.id, status: 'succeeded' };
    if (!charge.refundable) throw new GatewayFault('rejected', 'refund_declined', 'the issuer refused the refund');
    if (this.injectedFailure()) throw new GatewayFault('not_processed', 'processing_error', 'simulated gateway failure; nothing was refunded');
    const refunded = await this.store.markRefunded(charge.id, newId('re'), request.idempotencyKey);
    return { refundId: refunded.refundId as string, chargeId: refunded.id, status: 'succeeded' };
  }

  /** Drops late charges that have not landed (shutdown). */
  close(): void {
    for (const timer of this.lateCharges) clearTimeout(timer);
    this.lateCharges.clear();
  }
}
