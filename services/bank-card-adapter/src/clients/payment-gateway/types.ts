// The payment gateway as the adapter sees it: a provider client, reached over
// HTTP (CARD_ADAPTER_PAYMENT_GATEWAY_URL; locally the payment-gateway-mock
// service), like a real provider. Every call has a deadline.

import type { GatewayFailureKind } from '../../domain/saga.js';

export interface GatewayCard {
  /** Digits only. Sent to the gateway, never logged or stored by the adapter. */
  number: string;
  expiryMonth: number;
  expiryYear: number;
  cvc: string;
  holderName?: string;
}

export interface ChargeRequest {
  /** The same key always means the same charge: a retry never charges twice. */
  idempotencyKey: string;
  amountMinor: bigint;
  currency: string;
  card: GatewayCard;
}

export interface ChargeResult {
  chargeId: string;
  status: 'succeeded' | 'declined';
  declineCode?: string;
}

export interface RefundRequest {
  chargeId: string;
  idempotencyKey: string;
  /** Absent: everything not refunded yet (the top-up saga's compensation). */
  amountMinor?: bigint;
}

export interface RefundResult {
  refundId: string;
  chargeId: string;
  status: 'succeeded';
}

export interface PaymentGateway {
  charge(request: ChargeRequest): Promise<ChargeResult>;
  /** The charge made with this idempotency key, or null if the gateway has none. */
  findCharge(idempotencyKey: string): Promise<ChargeResult | null>;
  refund(request: RefundRequest): Promise<RefundResult>;
  /** The refund made with this idempotency key, or null if the gateway has none. */
  findRefund(idempotencyKey: string): Promise<RefundResult | null>;
  /**
   * While the gateway is known to be failing (its circuit breaker is open):
   * seconds until it is tried again; 0 (or absent) while calls go through.
   */
  refusingForSeconds?(): number;
  /** Readiness: resolves when the gateway answers. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A failed gateway call, classified by what it means for the money (see domain/saga.ts). */
export class PaymentGatewayError extends Error {
  constructor(
    readonly kind: GatewayFailureKind,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'PaymentGatewayError';
  }
}

export function isPaymentGatewayError(error: unknown): error is PaymentGatewayError {
  return error instanceof PaymentGatewayError;
}

/** Any error from a gateway call as a PaymentGatewayError; unexpected errors count as "unknown". */
export function asGatewayError(error: unknown): PaymentGatewayError {
  if (error instanceof PaymentGatewayError) return error;
  return new PaymentGatewayError('unknown', 'client_error', String((error as Error)?.message ?? error));
}
