import { MockGatewayFault, type MockPaymentGatewayEngine } from '../../payment-gateway-mock/engine.js';
import {
  PaymentGatewayError,
  asGatewayError,
  type ChargeRequest,
  type ChargeResult,
  type PaymentGateway,
  type RefundRequest,
  type RefundResult,
} from './types.js';

/**
 * Runs a call with a deadline: the call gets a signal that aborts at the
 * deadline, and the caller gets a timeout error then, whatever the call does.
 */
export async function withDeadline<T>(timeoutMs: number, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new PaymentGatewayError('timeout', 'deadline_exceeded', `the payment gateway did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const work = call(controller.signal);
  // The losing promise must not surface as an unhandled rejection.
  work.catch(() => undefined);
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function translate(error: unknown): PaymentGatewayError {
  if (error instanceof MockGatewayFault) return new PaymentGatewayError(error.kind, error.code, error.message);
  return asGatewayError(error);
}

/** The mock gateway called in-process, with the same deadline discipline as a remote client. */
export class InProcessPaymentGateway implements PaymentGateway {
  constructor(
    private readonly engine: MockPaymentGatewayEngine,
    private readonly timeoutMs: number,
  ) {}

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    try {
      return await withDeadline(this.timeoutMs, (signal) => this.engine.charge(request, signal));
    } catch (error) {
      throw translate(error);
    }
  }

  async findCharge(idempotencyKey: string): Promise<ChargeResult | null> {
    try {
      return await withDeadline(this.timeoutMs, (signal) => this.engine.findCharge(idempotencyKey, signal));
    } catch (error) {
      throw translate(error);
    }
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    try {
      return await withDeadline(this.timeoutMs, (signal) => this.engine.refund(request, signal));
    } catch (error) {
      throw translate(error);
    }
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}
}
