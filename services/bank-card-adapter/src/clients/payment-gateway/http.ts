// The payment gateway reached over HTTP (CARD_ADAPTER_PAYMENT_GATEWAY_URL), as a real
// provider client would be. Every call carries a deadline, and every failure
// is classified by what it means for the money: a refused connection never
// charged; a dropped connection or a timeout may have.

import {
  PaymentGatewayError,
  type ChargeRequest,
  type ChargeResult,
  type PaymentGateway,
  type RefundRequest,
  type RefundResult,
} from './types.js';
import type { GatewayFailureKind } from '../../domain/saga.js';

const MAX_RESPONSE_BYTES = 64 * 1024;

interface ErrorBody {
  error?: { code?: string; kind?: string; message?: string };
}

function networkFailure(error: unknown): PaymentGatewayError {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return new PaymentGatewayError('timeout', 'deadline_exceeded', 'the payment gateway did not answer in time');
  }
  const code = err?.cause?.code ?? '';
  // Connection never opened: the request cannot have reached the gateway.
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH' || code === 'EAI_AGAIN') {
    return new PaymentGatewayError('not_processed', 'unreachable', `the payment gateway is unreachable (${code})`);
  }
  return new PaymentGatewayError('unknown', 'network_error', `the connection to the payment gateway failed (${code || err?.message || 'unknown'})`);
}

function isResult(value: unknown): value is ChargeResult {
  const v = value as ChargeResult;
  return typeof v?.chargeId === 'string' && (v.status === 'succeeded' || v.status === 'declined');
}

export class HttpPaymentGateway implements PaymentGateway {
  private readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    options: { idempotencyKey?: string; body?: unknown } = {},
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
      });
      text = await response.text();
    } catch (error) {
      throw networkFailure(error);
    }
    if (text.length > MAX_RESPONSE_BYTES) throw new PaymentGatewayError('unknown', 'bad_response', 'the payment gateway answered too much');
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // A non-JSON answer is classified by its status below.
    }
    return { status: response.status, body };
  }

  private failure(status: number, body: unknown): PaymentGatewayError {
    const error = (body as ErrorBody)?.error;
    const code = error?.code ?? `http_${status}`;
    const message = error?.message ?? `the payment gateway answered ${status}`;
    let kind: GatewayFailureKind;
    if (status === 503 && error?.kind === 'not_processed') kind = 'not_processed';
    else if (status >= 500) kind = 'unknown';
    else kind = 'rejected';
    return new PaymentGatewayError(kind, code, message);
  }

  async charge(request: ChargeRequest): Promise<ChargeResult> {
    const { status, body } = await this.request('POST', '/v1/charges', {
      idempotencyKey: request.idempotencyKey,
      body: {
        amountMinor: request.amountMinor.toString(),
        currency: request.currency,
        card: request.card,
      },
    });
    if (status === 200 && isResult(body)) return body;
    if (status === 200) throw new PaymentGatewayError('unknown', 'bad_response', 'the payment gateway answered an unreadable charge');
    throw this.failure(status, body);
  }

  async findCharge(idempotencyKey: string): Promise<ChargeResult | null> {
    const { status, body } = await this.request('GET', `/v1/charges?idempotency_key=${encodeURIComponent(idempotencyKey)}`);
    if (status === 200 && isResult(body)) return body;
    if (status === 404) return null;
    if (status === 200) throw new PaymentGatewayError('unknown', 'bad_response', 'the payment gateway answered an unreadable charge');
    throw this.failure(status, body);
  }

  async refund(request: RefundRequest): Promise<RefundResult> {
    const { status, body } = await this.request('POST', `/v1/charges/${encodeURIComponent(request.chargeId)}/refunds`, {
      idempotencyKey: request.idempotencyKey,
    });
    const refund = body as RefundResult;
    if (status === 200 && typeof refund?.refundId === 'string') return { refundId: refund.refundId, chargeId: refund.chargeId, status: 'succeeded' };
    throw this.failure(status, body);
  }

  async ping(): Promise<void> {
    const { status } = await this.request('GET', '/healthz');
    if (status !== 200) throw new PaymentGatewayError('unknown', `http_${status}`, 'the payment gateway is not healthy');
  }

  async close(): Promise<void> {}
}
