// The adapter's HTTP payment gateway client against the real mock process (HTTPS, mutual TLS, API key):
// test cards, idempotency, refunds, deadlines, and how every failure is
// classified for the money (not processed / unknown / timeout / rejected).
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mtlsServerOptions } from '@wallet/platform/tls';
import { createTestDatabase, freePort, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpPaymentGateway } from '../../src/clients/payment-gateway/http.js';
import { PaymentGatewayError, asGatewayError } from '../../src/clients/payment-gateway/types.js';
import { dropTestDatabase } from '../support/db.js';
import { testGrpcSecurity } from '../../../../test/support/pki.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';
import { CARDS, SUCCESS_CARDS } from '../support/test-cards.js';

/** Generous for calls that answer; short only where the test waits for a deadline on purpose. */
const TIMEOUT_MS = 5_000;
const SHORT_TIMEOUT_MS = 300;

function chargeOf(number: string, key: string, amountMinor = 1_000n) {
  return { idempotencyKey: key, amountMinor, currency: 'USD', card: { number, expiryMonth: 12, expiryYear: 2030, cvc: '123' } };
}

async function failureOf(promise: Promise<unknown>): Promise<PaymentGatewayError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PaymentGatewayError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

let db: TestDatabase;
let mock: MockGatewayProcess;
let gateway: HttpPaymentGateway;
let impatient: HttpPaymentGateway;

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_gateway_client');
  mock = await MockGatewayProcess.start(db.url);
  gateway = await gatewayClient(`${mock.url}/`, TIMEOUT_MS);
  impatient = await gatewayClient(mock.url, SHORT_TIMEOUT_MS);
});

afterAll(async () => {
  await gateway?.close();
  await impatient?.close();
  await mock?.stop();
  await dropTestDatabase(db);
});

describe('HTTP client against the payment gateway mock', () => {
  it('charges the success cards once per idempotency key', async () => {
    for (const [number] of SUCCESS_CARDS) {
      const key = `ok-${number}`;
      const first = await gateway.charge(chargeOf(number, key));
      const again = await gateway.charge(chargeOf(number, key));
      expect(first.status).toBe('succeeded');
      expect(again.chargeId).toBe(first.chargeId);
      expect(await gateway.findCharge(key)).toMatchObject({ chargeId: first.chargeId, status: 'succeeded' });
    }
  });

  it('declines the decline cards with their codes', async () => {
    expect(await gateway.charge(chargeOf(CARDS.declined, 'd1'))).toMatchObject({ status: 'declined', declineCode: 'generic_decline' });
    expect(await gateway.charge(chargeOf(CARDS.insufficientFunds, 'd2'))).toMatchObject({ status: 'declined', declineCode: 'insufficient_funds' });
  });

  it('a processing error is "not processed" and charges nothing', async () => {
    expect((await failureOf(gateway.charge(chargeOf(CARDS.processingError, 'proc')))).kind).toBe('not_processed');
    expect(await gateway.findCharge('proc')).toBeNull();
  });

  it('a gateway that never answers is a timeout, and nothing was charged', async () => {
    expect((await failureOf(impatient.charge(chargeOf(CARDS.timeout, 'timeout')))).kind).toBe('timeout');
    expect(await gateway.findCharge('timeout')).toBeNull();
  });

  it('a dropped connection after the charge is "unknown"; a retry with the same key finds the one charge', async () => {
    expect((await failureOf(gateway.charge(chargeOf(CARDS.chargeThenDrop, 'lost')))).kind).toBe('unknown');
    expect((await gateway.charge(chargeOf(CARDS.chargeThenDrop, 'lost'))).status).toBe('succeeded');
  });

  it('a charge answered too late is a timeout, and the lookup finds the charge', async () => {
    expect((await failureOf(impatient.charge(chargeOf(CARDS.chargeThenLate, 'late')))).kind).toBe('timeout');
    expect(await gateway.findCharge('late')).toMatchObject({ status: 'succeeded' });
  });

  it('a second, different charge under one key is rejected', async () => {
    await gateway.charge(chargeOf(CARDS.visa, 'reuse', 1_000n));
    expect((await failureOf(gateway.charge(chargeOf(CARDS.visa, 'reuse', 2_000n)))).kind).toBe('rejected');
  });

  it('refunds once, idempotently; a refused refund is rejected with its code', async () => {
    const charge = await gateway.charge(chargeOf(CARDS.visa, 'refund'));
    const first = await gateway.refund({ chargeId: charge.chargeId, idempotencyKey: 'refund-r' });
    expect((await gateway.refund({ chargeId: charge.chargeId, idempotencyKey: 'refund-r' })).refundId).toBe(first.refundId);
    const stuck = await gateway.charge(chargeOf(CARDS.refundDeclined, 'stuck'));
    expect(await failureOf(gateway.refund({ chargeId: stuck.chargeId, idempotencyKey: 'stuck-r' }))).toMatchObject({ kind: 'rejected', code: 'refund_declined' });
    expect((await failureOf(gateway.refund({ chargeId: 'ch_nope', idempotencyKey: 'y' }))).kind).toBe('rejected');
  });

  it('concurrent charges with one key make one charge', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => gateway.charge(chargeOf(CARDS.visa, 'concurrent'))));
    expect(new Set(results.map((r) => r.chargeId)).size).toBe(1);
  });

  it('answers pings; unexpected errors count as unknown', async () => {
    await expect(gateway.ping()).resolves.toBeUndefined();
    expect(asGatewayError(new Error('boom')).kind).toBe('unknown');
  });
});

describe('HTTP gateway client failure classification', () => {
  it('an unreachable gateway is "not processed" (the request never left)', async () => {
    const port = await freePort();
    const gateway = await gatewayClient(`https://127.0.0.1:${port}`, TIMEOUT_MS);
    const failure = await failureOf(gateway.charge(chargeOf('4242424242424242', 'unreachable')));
    expect(failure.kind).toBe('not_processed');
    expect((await failureOf(gateway.ping())).kind).toBe('not_processed');
  });

  describe('against a misbehaving server (with the right certificate)', () => {
    let bad: Server;
    let gateway: HttpPaymentGateway;
    beforeAll(async () => {
      bad = createServer(mtlsServerOptions((await testGrpcSecurity('payment-gateway-mock')).mtls!.provider), (req, res) => {
        if (req.url?.startsWith('/v1/charges?')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"nonsense":true}');
        } else if (req.url === '/v1/charges') {
          res.writeHead(500);
          res.end('oops');
        } else if (req.url === '/healthz') {
          res.writeHead(503);
          res.end();
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('not json');
        }
      });
      await new Promise<void>((resolve) => bad.listen(0, '127.0.0.1', () => resolve()));
      gateway = await gatewayClient(`https://127.0.0.1:${(bad.address() as AddressInfo).port}`, TIMEOUT_MS);
    });
    afterAll(async () => {
      await gateway?.close();
      bad.closeAllConnections();
      await new Promise((resolve) => bad.close(resolve));
    });

    it('a 5xx without "not processed" is unknown', async () => {
      expect((await failureOf(gateway.charge(chargeOf('4242424242424242', 'k')))).kind).toBe('unknown');
    });

    it('an unreadable 200 is unknown', async () => {
      expect((await failureOf(gateway.findCharge('k'))).kind).toBe('unknown');
    });

    it('a refund answer that is not JSON is rejected', async () => {
      expect((await failureOf(gateway.refund({ chargeId: 'ch_1', idempotencyKey: 'r' }))).kind).toBe('rejected');
    });

    it('an unhealthy gateway fails the ping', async () => {
      expect((await failureOf(gateway.ping())).code).toBe('http_503');
    });
  });
});
