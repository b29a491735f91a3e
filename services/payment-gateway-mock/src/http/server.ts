// The mock payment gateway's HTTP API, shaped like a provider's:
//
//   POST /v1/charges                      Idempotency-Key; {amountMinor, currency, card}
//   GET  /v1/charges?idempotency_key=K    the charge made with a key, or 404
//   POST /v1/charges/{chargeId}/refunds   Idempotency-Key; {amountMinor}? (absent: all that is not refunded)
//   GET  /v1/refunds?idempotency_key=K    the refund made with a key, or 404
//   GET  /v1/ledger?limit=N               the provider's ledger, for tests
//   GET  /healthz                         liveness (the caller's ping)
//
// Served over HTTPS with client certificates (mutual TLS): the handshake
// refuses a client without a certificate from the CA (or an expired one); a
// valid certificate of any other service than the allowed callers gets 403
// caller_not_allowed before anything is read or charged. /v1/* also needs the
// merchant's API key (Authorization: Bearer), as at a real provider: 401
// invalid_api_key. /readyz and /metrics are on the plain ops port (service.ts).

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { listenHttp, secondsSince, type Logger } from '@wallet/platform';
import { certificateDnsNames, followCertificateRotation, mtlsServerOptions, type ReloadingCertificateProvider } from '@wallet/platform/tls';
import { extractTraceContext, recordSpanError, SpanKind, withSpan } from '@wallet/platform/tracing';
import type { Charge, PaymentGatewayEngine, RefundResult } from '../app/engine.js';
import { GatewayFault } from '../domain/faults.js';
import type { MockMetrics } from '../metrics.js';

const LEDGER_LIMIT_MAX = 1_000;

export interface MockServer {
  port: number;
  /** 'https' (mutual TLS) or 'http' (bench-only plaintext hook). */
  scheme: 'https' | 'http';
  close(): Promise<void>;
}

class BadRequest extends Error {}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  // An answer before the body was read (too large, refused caller): the rest of it is still on the
  // connection, so it cannot carry another request; tell the client instead of resetting under it.
  if (!res.req.complete) res.setHeader('connection', 'close');
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/** A body that may be empty (undefined then), else JSON. */
async function readOptionalJson(req: IncomingMessage, bytesMax: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > bytesMax) throw new BadRequest('body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest('body is not JSON');
  }
}

function parseRefundAmount(body: unknown): bigint | undefined {
  if (body === undefined) return undefined;
  const b = body as { amountMinor?: unknown };
  if (typeof b !== 'object' || b === null || Array.isArray(b)) throw new BadRequest('the body must be a JSON object');
  if (b.amountMinor === undefined) return undefined;
  if (typeof b.amountMinor !== 'string' || !/^[1-9][0-9]{0,17}$/.test(b.amountMinor)) throw new BadRequest('amountMinor must be a positive integer string');
  return BigInt(b.amountMinor);
}

function refundJson(result: RefundResult) {
  return { ...result, amountMinor: result.amountMinor.toString() };
}

async function readJson(req: IncomingMessage, bytesMax: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > bytesMax) throw new BadRequest('body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new BadRequest('body is not JSON');
  }
}

function idempotencyKeyOf(req: IncomingMessage): string {
  const key = req.headers['idempotency-key'];
  if (typeof key !== 'string' || key.length < 1 || key.length > 255) throw new BadRequest('Idempotency-Key header (1-255 chars) is required');
  return key;
}

function parseCharge(body: unknown) {
  const b = body as { amountMinor?: unknown; currency?: unknown; card?: Record<string, unknown> };
  if (typeof b?.amountMinor !== 'string' || !/^[1-9][0-9]{0,17}$/.test(b.amountMinor)) throw new BadRequest('amountMinor must be a positive integer string');
  if (typeof b.currency !== 'string' || !/^[A-Z]{3}$/.test(b.currency)) throw new BadRequest('currency must be an ISO 4217 code');
  const card = b.card;
  if (!card || typeof card.number !== 'string' || !/^[0-9]{12,19}$/.test(card.number)) throw new BadRequest('card.number must be 12-19 digits');
  if (typeof card.expiryMonth !== 'number' || typeof card.expiryYear !== 'number' || typeof card.cvc !== 'string') {
    throw new BadRequest('card.expiryMonth, card.expiryYear and card.cvc are required');
  }
  return {
    amountMinor: BigInt(b.amountMinor),
    currency: b.currency,
    card: { number: card.number, expiryMonth: card.expiryMonth, expiryYear: card.expiryYear, cvc: card.cvc },
  };
}

function faultStatus(fault: GatewayFault): number {
  if (fault.kind === 'not_processed') return 503;
  if (fault.code === 'charge_not_found') return 404;
  if (fault.code === 'charge_not_refundable' || fault.code === 'refund_declined' || fault.code === 'refund_exceeds_charge') return 422;
  if (fault.kind === 'rejected') return 409;
  return 502;
}

function ledgerEntry(charge: Charge) {
  return { ...charge, amountMinor: charge.amountMinor.toString() };
}

export interface MockServerOptions {
  engine: PaymentGatewayEngine;
  host: string;
  port: number;
  logger: Logger;
  metrics: MockMetrics;
  bodyBytesMax: number;
  /** The merchant's API key every /v1/* call must present (Authorization: Bearer). */
  apiKey: string;
  /** The mock's certificate (mutual TLS); null serves plain HTTP (bench-only WALLET_TEST_GRPC_PLAINTEXT). */
  tls: ReloadingCertificateProvider | null;
  /** Service names (client certificate SAN DNS) allowed to call; others get 403. */
  allowedCallers: readonly string[];
}

async function route(options: MockServerOptions, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const { engine, logger, metrics } = options;
  const url = new URL(req.url ?? '/', 'http://mock.invalid');
  if (req.method === 'POST' && url.pathname === '/v1/charges') {
    const key = idempotencyKeyOf(req);
    const body = parseCharge(await readJson(req, options.bodyBytesMax));
    const result = await engine.charge({ idempotencyKey: key, ...body }, signal);
    metrics.calls.inc({ operation: 'charge', result: result.status });
    logger.info({ idempotencyKey: key, chargeId: result.chargeId, status: result.status }, 'charge');
    return send(res, 200, result);
  }
  if (req.method === 'GET' && url.pathname === '/v1/charges') {
    const key = url.searchParams.get('idempotency_key');
    if (!key) throw new BadRequest('idempotency_key is required');
    const result = await engine.findCharge(key, signal);
    metrics.calls.inc({ operation: 'find_charge', result: result ? 'found' : 'not_found' });
    if (result) return send(res, 200, result);
    return send(res, 404, { error: { code: 'charge_not_found', kind: 'rejected', message: 'no charge with this key' } });
  }
  const refundMatch = /^\/v1\/charges\/([A-Za-z0-9_]{1,64})\/refunds$/.exec(url.pathname);
  if (req.method === 'POST' && refundMatch) {
    const key = idempotencyKeyOf(req);
    const amountMinor = parseRefundAmount(await readOptionalJson(req, options.bodyBytesMax));
    const result = await engine.refund({ chargeId: refundMatch[1] as string, idempotencyKey: key, amountMinor }, signal);
    metrics.calls.inc({ operation: 'refund', result: 'succeeded' });
    logger.info({ chargeId: result.chargeId, refundId: result.refundId, amountMinor: result.amountMinor.toString() }, 'refund');
    return send(res, 200, refundJson(result));
  }
  if (req.method === 'GET' && url.pathname === '/v1/refunds') {
    const key = url.searchParams.get('idempotency_key');
    if (!key) throw new BadRequest('idempotency_key is required');
    const result = await engine.findRefund(key, signal);
    metrics.calls.inc({ operation: 'find_refund', result: result ? 'found' : 'not_found' });
    if (result) return send(res, 200, refundJson(result));
    return send(res, 404, { error: { code: 'refund_not_found', kind: 'rejected', message: 'no refund with this key' } });
  }
  if (req.method === 'GET' && url.pathname === '/v1/ledger') {
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 100) || 100, LEDGER_LIMIT_MAX);
    const charges = await engine.store.listCharges(limit);
    return send(res, 200, { charges: charges.map(ledgerEntry) });
  }
  return routeOps(req, res, url.pathname);
}

async function routeOps(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (req.method === 'GET' && path === '/healthz') return send(res, 200, { status: 'ok' });
  return send(res, 404, { error: { code: 'not_found', kind: 'rejected', message: 'no such route' } });
}

/** The calling service's name from its verified client certificate (null without one: plain HTTP). */
function callerOf(req: IncomingMessage): string | null {
  const socket = req.socket as TLSSocket;
  if (!socket.encrypted || !socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (!cert?.raw) return null;
  return certificateDnsNames(cert).find((name) => name !== 'localhost') ?? null;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Constant-time comparison of the presented key (hashes: equal lengths, no early exit). */
function apiKeyMatches(req: IncomingMessage, apiKey: string): boolean {
  const header = req.headers.authorization;
  if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
  return timingSafeEqual(digest(header.slice('Bearer '.length)), digest(apiKey));
}

/** Who may call what: a refusal answered here, or null to go on. Nothing is read or charged before it. */
function refusal(options: MockServerOptions, req: IncomingMessage): { status: number; code: string; message: string; caller: string } | null {
  if (options.tls) {
    const caller = callerOf(req);
    if (caller === null || !options.allowedCallers.includes(caller)) {
      return { status: 403, code: 'caller_not_allowed', message: `${caller ?? 'this client'} may not call the payment gateway`, caller: caller ?? 'none' };
    }
  }
  if ((req.url ?? '').startsWith('/v1/') && !apiKeyMatches(req, options.apiKey)) {
    return { status: 401, code: 'invalid_api_key', message: 'a valid API key (Authorization: Bearer) is required', caller: callerOf(req) ?? 'none' };
  }
  return null;
}

/** The route template of a request (span name and http.route): ids never make new names. */
function routeOf(req: IncomingMessage): string {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (path === '/v1/charges' || path === '/v1/refunds' || path === '/v1/ledger' || path === '/healthz') return path;
  if (/^\/v1\/charges\/[^/]+\/refunds$/.test(path)) return '/v1/charges/{chargeId}/refunds';
  return 'unmatched';
}

/**
 * Each request in a SERVER span whose parent is the caller's traceparent (the
 * card adapter's CLIENT span), so a top-up's trace shows the gateway's side.
 * Attributes: method, route template, status, error type; never the query
 * (idempotency key), headers (API key) or body (card).
 */
function traced(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, metrics: MockMetrics) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const startedNs = process.hrtime.bigint();
    const route = routeOf(req);
    // Bounded labels and names: a client chooses the method, we do not let it choose a series.
    const method = KNOWN_METHODS.has(req.method ?? '') ? (req.method as string) : '_OTHER';
    const attributes = {
      'http.request.method': method,
      'http.route': route,
      'url.scheme': (req.socket as TLSSocket).encrypted ? 'https' : 'http',
      'server.port': req.socket.localPort ?? 0,
    };
    await withSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes, parent: extractTraceContext(req.headers) }, async (span) => {
      await handle(req, res);
      if (!res.headersSent) {
        // No answer: the caller gave up, or a fault hook dropped the connection after charging.
        recordSpanError(span, null, 'no response was sent', 'no_response');
        return;
      }
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) recordSpanError(span, null, `answered ${res.statusCode}`, String(res.statusCode));
    });
    const statusCode = res.headersSent ? String(res.statusCode) : 'none';
    metrics.requestDuration.observe({ method, route, status_code: statusCode }, secondsSince(startedNs));
  };
}

const KNOWN_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

export async function startMockServer(options: MockServerOptions): Promise<MockServer> {
  const { logger } = options;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // The caller hanging up is how a timed-out request ends; stop working on it.
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const refused = refusal(options, req);
    if (refused) {
      options.metrics.refused.inc({ reason: refused.code, caller: refused.caller });
      logger.warn({ caller: refused.caller, reason: refused.code, method: req.method, path: req.url?.split('?')[0] }, 'payment gateway call refused');
      if (refused.status === 401) res.setHeader('www-authenticate', 'Bearer');
      return send(res, refused.status, { error: { code: refused.code, kind: 'rejected', message: refused.message } });
    }
    try {
      await route(options, req, res, controller.signal);
    } catch (error) {
      if (error instanceof BadRequest) return send(res, 400, { error: { code: 'bad_request', kind: 'rejected', message: error.message } });
      if (error instanceof GatewayFault) {
        options.metrics.calls.inc({ operation: req.method === 'POST' && req.url?.includes('/refunds') ? 'refund' : 'charge', result: error.code });
        if (error.code === 'caller_gave_up') return;
        if (error.dropConnection) {
          // The charge happened; the answer is lost on the way back.
          req.socket.destroy();
          return;
        }
        return send(res, faultStatus(error), { error: { code: error.code, kind: error.kind, message: error.message } });
      }
      logger.error({ err: error }, 'mock gateway failure');
      return send(res, 500, { error: { code: 'internal', kind: 'unknown', message: 'internal error' } });
    }
  };
  const tracedHandle = traced(handle, options.metrics);
  const listener = (req: IncomingMessage, res: ServerResponse): void => void tracedHandle(req, res);
  const server = options.tls ? createHttpsServer(mtlsServerOptions(options.tls), listener) : createServer(listener);
  server.requestTimeout = 120_000;
  server.headersTimeout = 10_000;
  // New connections use a rotated certificate (and CA); open ones keep their handshake.
  const unfollow = options.tls ? followCertificateRotation(server as ReturnType<typeof createHttpsServer>, options.tls) : () => {};
  const listening = await listenHttp(server as Server, options.host, options.port);
  return {
    port: listening.port,
    scheme: options.tls ? 'https' : 'http',
    close: async () => {
      unfollow();
      await listening.close();
    },
  };
}
