// The mock payment gateway as a small HTTP service, so the network between
// the adapter and the gateway can fail for real (refused, dropped, too slow).
//
//   POST /v1/charges                 Idempotency-Key; {amountMinor, currency, card}
//   GET  /v1/charges?idempotency_key=K
//   POST /v1/charges/{chargeId}/refunds   Idempotency-Key
//   GET  /v1/ledger?limit=N          the provider's ledger, for tests
//   GET  /healthz

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listenHttp, type Logger } from '@wallet/platform';
import { MockGatewayFault, type MockCharge, type MockPaymentGatewayEngine } from './engine.js';

const MAX_BODY_BYTES = 16 * 1024;
const LEDGER_LIMIT_MAX = 1_000;

export interface MockGatewayServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

class BadRequest extends Error {}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new BadRequest('body too large');
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

function faultStatus(fault: MockGatewayFault): number {
  if (fault.kind === 'not_processed') return 503;
  if (fault.code === 'charge_not_found') return 404;
  if (fault.code === 'charge_not_refundable') return 422;
  if (fault.kind === 'rejected') return 409;
  return 502;
}

function ledgerEntry(charge: MockCharge) {
  return { ...charge, amountMinor: charge.amountMinor.toString() };
}

export async function startMockGatewayServer(options: {
  engine: MockPaymentGatewayEngine;
  host: string;
  port: number;
  logger: Logger;
}): Promise<MockGatewayServer> {
  const { engine, logger } = options;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://mock.invalid');
    // The caller hanging up is how a timed-out request ends; stop working on it.
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    try {
      if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
      if (req.method === 'POST' && url.pathname === '/v1/charges') {
        const key = idempotencyKeyOf(req);
        const body = parseCharge(await readJson(req));
        const result = await engine.charge({ idempotencyKey: key, ...body }, controller.signal);
        logger.info({ idempotencyKey: key, chargeId: result.chargeId, status: result.status }, 'charge');
        return send(res, 200, result);
      }
      if (req.method === 'GET' && url.pathname === '/v1/charges') {
        const key = url.searchParams.get('idempotency_key');
        if (!key) throw new BadRequest('idempotency_key is required');
        const result = await engine.findCharge(key, controller.signal);
        return result ? send(res, 200, result) : send(res, 404, { error: { code: 'charge_not_found', kind: 'rejected', message: 'no charge with this key' } });
      }
      const refundMatch = /^\/v1\/charges\/([A-Za-z0-9_]{1,64})\/refunds$/.exec(url.pathname);
      if (req.method === 'POST' && refundMatch) {
        const key = idempotencyKeyOf(req);
        const result = await engine.refund({ chargeId: refundMatch[1] as string, idempotencyKey: key }, controller.signal);
        logger.info({ chargeId: result.chargeId, refundId: result.refundId }, 'refund');
        return send(res, 200, result);
      }
      if (req.method === 'GET' && url.pathname === '/v1/ledger') {
        const limit = Math.min(Number(url.searchParams.get('limit') ?? 100) || 100, LEDGER_LIMIT_MAX);
        const charges = await engine.store.listCharges(limit);
        return send(res, 200, { charges: charges.map(ledgerEntry) });
      }
      return send(res, 404, { error: { code: 'not_found', kind: 'rejected', message: 'no such route' } });
    } catch (error) {
      if (error instanceof BadRequest) return send(res, 400, { error: { code: 'bad_request', kind: 'rejected', message: error.message } });
      if (error instanceof MockGatewayFault) {
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

  const server = createServer((req, res) => {
    void handle(req, res);
  });
  server.requestTimeout = 120_000;
  server.headersTimeout = 10_000;
  return listenHttp(server, options.host, options.port);
}
