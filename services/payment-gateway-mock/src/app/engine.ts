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
  /** Absent: everything not refunded yet. */
  amountMinor?: bigint | undefined;
}

export interface RefundResult {
  refundId: string;
  chargeId: string;
  status: 'succeeded';
  amountMinor: bigint;
}

export interface Refund {
  id: string;
  chargeId: string;
  idempotencyKey: string;
  amountMinor: bigint;
  currency: string;
  createdAt: Date;
}

/** How the refunds of a test card's charge misbehave (null: they do not). */
export type RefundFault = 'timeout' | 'answer_lost' | null;

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
  refundFault: RefundFault;
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
  findRefundByKey(idempotencyKey: string): Promise<Refund | null>;
  /**
   * Atomically per charge: stores the refund unless its key exists (then the
   * stored one), if it fits what is not refunded yet (else 'exceeds'); a
   * refund that completes the charge's refund is also recorded on the charge
   * (refundId). amountMinor null: everything not refunded yet ('exceeds' when nothing is left).
   */
  insertRefund(refund: { id: string; chargeId: string; idempotencyKey: string; amountMinor: bigint | null }): Promise<Refund | 'exceeds'>;
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

function refundResult(refund: Refund): RefundResult {
  return { refundId: refund.id, chargeId: refund.chargeId, status: 'succeeded', amountMinor: refund.amountMinor };
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
      refundFault: behaviour.kind === 'refund_timeout' ? 'timeout' : behaviour.kind === 'refund_answer_lost' ? 'answer_lost' : null,
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

  /**
   * Refunds (part of) a charge, once per idempotency key: the same key answers
   * its refund again; never more than the charge in total.
   */
  async refund(request: RefundRequest, signal: AbortSignal): Promise<RefundResult> {
    await delay(this.options.latencyMs, signal);
    const earlier = await this.store.findRefundByKey(request.idempotencyKey);
    if (earlier) return this.replayRefund(earlier, request);
    const charge = await this.store.findChargeById(request.chargeId);
    if (!charge) throw new GatewayFault('rejected', 'charge_not_found', `no charge ${request.chargeId}`);
    if (charge.status !== 'succeeded') throw new GatewayFault('rejected', 'charge_not_refundable', 'a declined charge has nothing to refund');
    // A whole refund of a charge refunded in full already answers that refund (the top-up saga's retries).
    if (request.amountMinor === undefined && charge.refundId) return this.wholeRefundAgain(charge);
    if (!charge.refundable) throw new GatewayFault('rejected', 'refund_declined', 'the issuer refused the refund');
    if (charge.refundFault === 'timeout') return hang(signal);
    if (this.injectedFailure()) throw new GatewayFault('not_processed', 'processing_error', 'simulated gateway failure; nothing was refunded');
    const stored = await this.store.insertRefund({ id: newId('re'), chargeId: charge.id, idempotencyKey: request.idempotencyKey, amountMinor: request.amountMinor ?? null });
    if (stored === 'exceeds') throw new GatewayFault('rejected', 'refund_exceeds_charge', 'the refunds would exceed the charge');
    if (stored.chargeId !== charge.id) throw new GatewayFault('rejected', 'idempotency_key_reused', 'this idempotency key was used for another refund');
    if (charge.refundFault === 'answer_lost') return hang(signal);
    return refundResult(stored);
  }

  private async wholeRefundAgain(charge: Charge): Promise<RefundResult> {
    const refund = await this.store.findRefundByKey(charge.refundIdempotencyKey as string);
    return refund ? refundResult(refund) : { refundId: charge.refundId as string, chargeId: charge.id, status: 'succeeded', amountMinor: charge.amountMinor };
  }

  private replayRefund(earlier: Refund, request: RefundRequest): RefundResult {
    if (earlier.chargeId !== request.chargeId || (request.amountMinor !== undefined && request.amountMinor !== earlier.amountMinor)) {
      throw new GatewayFault('rejected', 'idempotency_key_reused', 'this idempotency key was used for another refund');
    }
    return refundResult(earlier);
  }

  /** The refund made with this idempotency key, or null: how a caller settles a refund whose answer it lost. */
  async findRefund(idempotencyKey: string, signal: AbortSignal): Promise<RefundResult | null> {
    await delay(this.options.latencyMs, signal);
    const refund = await this.store.findRefundByKey(idempotencyKey);
    return refund ? refundResult(refund) : null;
  }

  /** Drops late charges that have not landed (shutdown). */
  close(): void {
    for (const timer of this.lateCharges) clearTimeout(timer);
    this.lateCharges.clear();
  }
}
