// The payment gateway reached over HTTPS (CARD_ADAPTER_PAYMENT_GATEWAY_URL), as a real
// provider client would be: this service's certificate (mutual TLS, the
// gateway's certificate must name the expected service) and the merchant's
// API key. Every call carries a deadline, and every failure is classified by
// what it means for the money: a refused connection or TLS handshake never
// charged; a dropped connection or a timeout may have.

import { Agent, fetch, type Response } from 'undici';
import { mtlsClientOptions, type ReloadingCertificateProvider } from '@wallet/platform/tls';
import { context, getTracer, injectTraceHeaders, recordSpanError, SpanKind, trace, type Span } from '@wallet/platform/tracing';
import type { Histogram } from 'prom-client';
import {
  asGatewayError,
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

/** Connection never opened: the request cannot have reached the gateway. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * A TLS handshake that failed: our check of the gateway's certificate (before
 * anything is sent) or the gateway's refusal of ours (an alert during the
 * handshake, before it reads a request). Either way nothing was processed.
 * Only handshake-time codes: an error on an established connection stays unknown.
 */
function isHandshakeRefusal(code: string): boolean {
  return (
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    code === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' ||
    code === 'SELF_SIGNED_CERT_IN_CHAIN' ||
    code === 'DEPTH_ZERO_SELF_SIGNED_CERT' ||
    code === 'CERT_HAS_EXPIRED' ||
    code === 'CERT_NOT_YET_VALID' ||
    /^ERR_SSL_(TLSV1|TLSV13|SSLV3)_ALERT_(CERTIFICATE_\w+|BAD_CERTIFICATE|UNKNOWN_CA|ACCESS_DENIED|UNSUPPORTED_CERTIFICATE|HANDSHAKE_FAILURE)$/.test(code)
  );
}

function networkFailure(error: unknown): PaymentGatewayError {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') {
    return new PaymentGatewayError('timeout', 'deadline_exceeded', 'the payment gateway did not answer in time');
  }
  const code = err?.cause?.code ?? '';
  if (UNREACHABLE_CODES.has(code)) {
    return new PaymentGatewayError('not_processed', 'unreachable', `the payment gateway is unreachable (${code})`);
  }
  if (isHandshakeRefusal(code)) {
    return new PaymentGatewayError('not_processed', 'tls_handshake_refused', `the TLS handshake with the payment gateway failed (${code})`);
  }
  return new PaymentGatewayError('unknown', 'network_error', `the connection to the payment gateway failed (${code || err?.message || 'unknown'})`);
}

function isResult(value: unknown): value is ChargeResult {
  const v = value as ChargeResult;
  return typeof v?.chargeId === 'string' && (v.status === 'succeeded' || v.status === 'declined');
}

export interface HttpPaymentGatewayOptions {
  /** The merchant's API key (Authorization: Bearer). */
  apiKey: string;
  /** This service's certificate for mutual TLS (null: no client certificate, bench-only plaintext). */
  tls: ReloadingCertificateProvider | null;
  /** The name the gateway's certificate must carry (SAN DNS). */
  serverServiceName: string;
  /** Call latency by operation (card_adapter_payment_gateway_duration_seconds); readiness pings are not counted. */
  durationSeconds?: Histogram<'operation'>;
}

/** The calls the saga makes (metric label and span attribute); readiness pings are neither timed nor traced. */
type GatewayOperation = 'charge' | 'find_charge' | 'refund' | 'find_refund';

function serverOf(baseUrl: string): { address: string; port: number } {
  const url = new URL(baseUrl);
  return { address: url.hostname, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 };
}

/** Bound on idle keep-alive sockets to the gateway (and on how long one lingers). */
const CONNECTIONS_MAX = 32;
const KEEP_ALIVE_TIMEOUT_MS = 10_000;

export class HttpPaymentGateway implements PaymentGateway {
  private readonly baseUrl: string;
  private readonly server: { address: string; port: number };
  private agent: Agent;
  private material: unknown;
  private readonly onRotation = (): void => this.followRotation();

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
    private readonly options: HttpPaymentGatewayOptions,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.server = serverOf(this.baseUrl);
    this.material = options.tls?.current();
    this.agent = this.createAgent();
    // The provider publishes a reloaded set to its listeners; the next request uses it.
    options.tls?.addIdentityCertificateListener(this.onRotation);
    options.tls?.addCaCertificateListener(this.onRotation);
  }

  private createAgent(): Agent {
    const tls = this.options.tls ? mtlsClientOptions(this.options.tls, this.options.serverServiceName) : {};
    return new Agent({ connections: CONNECTIONS_MAX, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, connect: { ...tls, timeout: this.timeoutMs } });
  }

  /** A new agent (new connections) when the certificate or CA changed; the old one finishes its requests and closes. */
  private followRotation(): void {
    const current = this.options.tls?.current();
    if (current === this.material) return;
    this.material = current;
    const previous = this.agent;
    this.agent = this.createAgent();
    void previous.close().catch(() => {});
  }

  /**
   * One gateway call in its CLIENT span (the W3C traceparent of which goes to
   * the gateway) and timed in card_adapter_payment_gateway_duration_seconds.
   * Span attributes: method, route template, server, status, error type; never
   * the URL's query, headers (API key) or body (card).
   */
  private async traced<T>(operation: GatewayOperation, method: 'GET' | 'POST', route: string, call: (span: Span) => Promise<T>): Promise<T> {
    const startedMs = performance.now();
    const span = getTracer().startSpan(`${method} ${route}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': method,
        'url.template': route,
        'server.address': this.server.address,
        'server.port': this.server.port,
        'payment_gateway.operation': operation,
      },
    });
    try {
      return await context.with(trace.setSpan(context.active(), span), () => call(span));
    } catch (error) {
      const failure = asGatewayError(error);
      // Our own words: the gateway's message may echo what it was sent.
      const message = `payment gateway ${operation} failed (${failure.kind}: ${failure.code})`;
      recordSpanError(span, error, message, failure.code === 'deadline_exceeded' ? 'timeout' : failure.code);
      throw error;
    } finally {
      span.end();
      this.options.durationSeconds?.observe({ operation }, (performance.now() - startedMs) / 1_000);
    }
  }

  private async request(
    method: 'GET' | 'POST',
    path: string,
    options: { idempotencyKey?: string; body?: unknown; span?: Span } = {},
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json', authorization: `Bearer ${this.options.apiKey}` };
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.span) injectTraceHeaders(headers, trace.setSpan(context.active(), options.span));
    const signal = AbortSignal.timeout(this.timeoutMs);
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
        dispatcher: this.agent,
      });
      options.span?.setAttribute('http.response.status_code', response.status);
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

  charge(request: ChargeRequest): Promise<ChargeResult> {
    return this.traced('charge', 'POST', '/v1/charges', async (span) => {
      const { status, body } = await this.request('POST', '/v1/charges', {
        idempotencyKey: request.idempotencyKey,
        body: {
          amountMinor: request.amountMinor.toString(),
          currency: request.currency,
          card: request.card,
        },
        span,
      });
      if (status === 200 && isResult(body)) return body;
      if (status === 200) throw new PaymentGatewayError('unknown', 'bad_response', 'the payment gateway answered an unreadable charge');
      throw this.failure(status, body);
    });
  }

  findCharge(idempotencyKey: string): Promise<ChargeResult | null> {
    return this.traced('find_charge', 'GET', '/v1/charges', async (span) => {
      const { status, body } = await this.request('GET', `/v1/charges?idempotency_key=${encodeURIComponent(idempotencyKey)}`, { span });
      if (status === 200 && isResult(body)) return body;
      if (status === 404) return null;
      if (status === 200) throw new PaymentGatewayError('unknown', 'bad_response', 'the payment gateway answered an unreadable charge');
      throw this.failure(status, body);
    });
  }

  refund(request: RefundRequest): Promise<RefundResult> {
    return this.traced('refund', 'POST', '/v1/charges/{chargeId}/refunds', async (span) => {
      const { status, body } = await this.request('POST', `/v1/charges/${encodeURIComponent(request.chargeId)}/refunds`, {
        idempotencyKey: request.idempotencyKey,
        ...(request.amountMinor === undefined ? {} : { body: { amountMinor: request.amountMinor.toString() } }),
        span,
      });
      const refund = body as RefundResult;
      if (status === 200 && typeof refund?.refundId === 'string') return { refundId: refund.refundId, chargeId: refund.chargeId, status: 'succeeded' };
      throw this.failure(status, body);
    });
  }

  findRefund(idempotencyKey: string): Promise<RefundResult | null> {
    return this.traced('find_refund', 'GET', '/v1/refunds', async (span) => {
      const { status, body } = await this.request('GET', `/v1/refunds?idempotency_key=${encodeURIComponent(idempotencyKey)}`, { span });
      const refund = body as RefundResult;
      if (status === 200 && typeof refund?.refundId === 'string') return { refundId: refund.refundId, chargeId: refund.chargeId, status: 'succeeded' };
      if (status === 404) return null;
      if (status === 200) throw new PaymentGatewayError('unknown', 'bad_response', 'the payment gateway answered an unreadable refund');
      throw this.failure(status, body);
    });
  }

  async ping(): Promise<void> {
    const { status } = await this.request('GET', '/healthz');
    if (status !== 200) throw new PaymentGatewayError('unknown', `http_${status}`, 'the payment gateway is not healthy');
  }

  async close(): Promise<void> {
    this.options.tls?.removeIdentityCertificateListener(this.onRotation);
    this.options.tls?.removeCaCertificateListener(this.onRotation);
    await this.agent.close();
  }
}
