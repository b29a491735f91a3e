// Wraps the mock gateway so a test can make the network between adapter and
// gateway fail (before the request reaches the mock) or hold a charge open.
import { PaymentGatewayError, type ChargeRequest, type ChargeResult, type PaymentGateway, type RefundRequest, type RefundResult } from '../../src/clients/payment-gateway/types.js';

export class ControllableGateway implements PaymentGateway {
  /** When set, charges fail with this (the mock never sees them). */
  chargeFault: PaymentGatewayError | undefined;
  refundFault: PaymentGatewayError | undefined;
  /** When set, charges wait for it before reaching the mock. */
  chargeGate: Promise<void> | undefined;
  chargeCalls = 0;
  refundCalls = 0;

  constructor(readonly inner: PaymentGateway) {}

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    this.chargeCalls += 1;
    if (this.chargeGate) await this.chargeGate;
    if (this.chargeFault) throw this.chargeFault;
    return this.inner.charge(request);
  }

  findCharge(idempotencyKey: string): Promise<ChargeResult | null> {
    return this.inner.findCharge(idempotencyKey);
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    this.refundCalls += 1;
    if (this.refundFault) throw this.refundFault;
    return this.inner.refund(request);
  }

  findRefund(idempotencyKey: string): Promise<RefundResult | null> {
    return this.inner.findRefund(idempotencyKey);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  reset(): void {
    this.chargeFault = undefined;
    this.refundFault = undefined;
    this.chargeGate = undefined;
  }
}

export const networkDropped = () => new PaymentGatewayError('unknown', 'network_error', 'connection reset (test)');
