// Circuit breakers around the adapter's two downstreams (@wallet/platform/resilience,
// opossum): `bank` and `payment_gateway`. Wrappers, not code inside the saga:
// each keeps its client's interface and error vocabulary, and turns an open
// breaker's refusal into that vocabulary's "certainly not sent" error, so the
// saga's ambiguity rules need no new case to stay right.
import type { Logger } from '@wallet/platform';
import { createBreaker, isBreakerOpenError, isInfrastructureFailure, type Breaker, type BreakerState } from '@wallet/platform/resilience';
import type { Registry } from 'prom-client';
import type { DebitLookup } from '../domain/refund.js';
import type { DepositLookup } from '../domain/saga.js';
import { BankCallError, type AccountCheck, type Bank, type DepositRequest, type DepositResult, type RefundDebitRequest } from './bank.js';
import {
  PaymentGatewayError,
  type ChargeRequest,
  type ChargeResult,
  type PaymentGateway,
  type RefundRequest,
  type RefundResult,
} from './payment-gateway/types.js';

/** The reason / code an open breaker's refusal carries, so logs and metrics tell it from a real failure. */
export const CIRCUIT_OPEN = 'CIRCUIT_OPEN';
export const GATEWAY_CIRCUIT_OPEN = 'circuit_open';

export interface BreakerSettings {
  resetTimeoutMs: number;
  errorThresholdPercentage: number;
  volumeThreshold: number;
  rollingCountTimeoutMs: number;
}

export interface DownstreamBreakers {
  bank: Breaker;
  paymentGateway: Breaker;
  /** For /readyz detail: each breaker's state (never decides readiness). */
  states(): Record<'bank' | 'payment_gateway', BreakerState>;
  shutdown(): void;
}

/**
 * A gateway failure counts when the gateway or the path to it is failing
 * (refused, unreachable, timed out, 5xx); a refusal of the request itself
 * (4xx: bad request, key conflict) proves the gateway is up. A decline is an
 * answer, not an error, and never reaches here.
 */
export function isPaymentGatewayFailure(error: unknown): boolean {
  if (error instanceof PaymentGatewayError) return error.kind !== 'rejected';
  return isInfrastructureFailure(error);
}

export function createDownstreamBreakers(settings: BreakerSettings, registry: Registry, logger: Logger): DownstreamBreakers {
  const options = { registry, logger, ...settings };
  const bank = createBreaker('bank', options);
  const paymentGateway = createBreaker('payment_gateway', { ...options, isFailure: isPaymentGatewayFailure });
  return {
    bank,
    paymentGateway,
    states: () => ({ bank: bank.state(), payment_gateway: paymentGateway.state() }),
    shutdown: () => {
      bank.shutdown();
      paymentGateway.shutdown();
    },
  };
}

/**
 * The bank behind its breaker. An open breaker answers UNAVAILABLE with
 * `notSent`: the request never left this process, so that call applied
 * nothing (an earlier attempt still may have: the saga keeps its rules).
 */
export class BreakerBank implements Bank {
  constructor(
    private readonly inner: Bank,
    private readonly breaker: Breaker,
  ) {}

  private async guarded<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.run(call);
    } catch (error) {
      if (!isBreakerOpenError(error)) throw error;
      throw new BankCallError('UNAVAILABLE', CIRCUIT_OPEN, undefined, error.message, { notSent: true, retryAfterSeconds: error.retryAfterSeconds });
    }
  }

  deposit(request: DepositRequest, headers?: Record<string, string | undefined>): Promise<DepositResult> {
    return this.guarded(() => this.inner.deposit(request, headers));
  }

  lookUpDeposit(reference: string, voidIfAbsent: boolean, headers?: Record<string, string | undefined>): Promise<DepositLookup> {
    return this.guarded(() => this.inner.lookUpDeposit(reference, voidIfAbsent, headers));
  }

  checkAccount(accountId: string, authorization: string, headers?: Record<string, string | undefined>): Promise<AccountCheck> {
    return this.guarded(() => this.inner.checkAccount(accountId, authorization, headers));
  }

  refundDeposit(request: RefundDebitRequest, headers?: Record<string, string | undefined>): Promise<{ replayed: boolean; status: 'debited' | 'cancelled' }> {
    return this.guarded(() => this.inner.refundDeposit(request, headers));
  }

  lookUpRefund(reference: string, voidIfAbsent: boolean, headers?: Record<string, string | undefined>): Promise<DebitLookup> {
    return this.guarded(() => this.inner.lookUpRefund(reference, voidIfAbsent, headers));
  }

  cancelRefund(reference: string, headers?: Record<string, string | undefined>): Promise<{ replayed: boolean }> {
    return this.guarded(() => this.inner.cancelRefund(reference, headers));
  }

  /** Readiness reports the bank's own reachability, not the breaker's view. */
  ping(timeoutMs: number): Promise<void> {
    return this.inner.ping(timeoutMs);
  }

  close(): void {
    this.inner.close();
  }
}

/**
 * The payment gateway behind its breaker. An open breaker answers
 * `not_processed` (code circuit_open): nothing was sent, so nothing can have
 * been charged or refunded by that call.
 */
export class BreakerPaymentGateway implements PaymentGateway {
  constructor(
    private readonly inner: PaymentGateway,
    private readonly breaker: Breaker,
  ) {}

  private async guarded<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await this.breaker.run(call);
    } catch (error) {
      if (!isBreakerOpenError(error)) throw error;
      throw new PaymentGatewayError('not_processed', GATEWAY_CIRCUIT_OPEN, error.message);
    }
  }

  charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.guarded(() => this.inner.charge(request));
  }

  findCharge(idempotencyKey: string): Promise<ChargeResult | null> {
    return this.guarded(() => this.inner.findCharge(idempotencyKey));
  }

  refund(request: RefundRequest): Promise<RefundResult> {
    return this.guarded(() => this.inner.refund(request));
  }

  findRefund(idempotencyKey: string): Promise<RefundResult | null> {
    return this.guarded(() => this.inner.findRefund(idempotencyKey));
  }

  /** Seconds until the breaker lets a probe through while it is open; 0 while calls go through (closed or half-open). */
  refusingForSeconds(): number {
    return this.breaker.state() === 'open' ? this.breaker.retryAfterSeconds() : 0;
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
