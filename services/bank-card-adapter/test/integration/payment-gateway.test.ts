// The payment gateway mock and both clients (in-process, HTTP): test cards,
// idempotency, refunds, deadlines, and how failures are classified.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '@wallet/platform';
import { freePort } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpPaymentGateway } from '../../src/clients/payment-gateway/http.js';
import { InProcessPaymentGateway, withDeadline } from '../../src/clients/payment-gateway/in-process.js';
import { PaymentGatewayError, asGatewayError, type PaymentGateway } from '../../src/clients/payment-gateway/types.js';
import { portFromArgs } from '../../src/payment-gateway-mock/config.js';
import { MemoryMockGatewayStore, MockPaymentGatewayEngine, seededRandom } from '../../src/payment-gateway-mock/engine.js';
import { startMockGatewayServer, type MockGatewayServer } from '../../src/payment-gateway-mock/server.js';
import { TEST_CARDS } from '../../src/payment-gateway-mock/test-cards.js';

const logger = createLogger('test', 'silent');
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

interface Variant {
  name: string;
  gateway: PaymentGateway;
  /** The same gateway with a short deadline, for the cards that never answer. */
  impatient: PaymentGateway;
  store: MemoryMockGatewayStore;
}

let server: MockGatewayServer;
const variants: Variant[] = [];

beforeAll(async () => {
  const inProcessStore = new MemoryMockGatewayStore();
  const inProcessEngine = new MockPaymentGatewayEngine(inProcessStore, { latencyMs: 0, failureRate: 0, seed: 1 });
  variants.push({
    name: 'in-process',
    store: inProcessStore,
    gateway: new InProcessPaymentGateway(inProcessEngine, TIMEOUT_MS),
    impatient: new InProcessPaymentGateway(inProcessEngine, SHORT_TIMEOUT_MS),
  });
  const httpStore = new MemoryMockGatewayStore();
  server = await startMockGatewayServer({
    engine: new MockPaymentGatewayEngine(httpStore, { latencyMs: 0, failureRate: 0, seed: 1 }),
    host: '127.0.0.1',
    port: 0,
    logger,
  });
  variants.push({
    name: 'http',
    store: httpStore,
    gateway: new HttpPaymentGateway(`http://127.0.0.1:${server.port}/`, TIMEOUT_MS),
    impatient: new HttpPaymentGateway(`http://127.0.0.1:${server.port}`, SHORT_TIMEOUT_MS),
  });
});

afterAll(async () => {
  await server?.close();
});

describe.each(['in-process', 'http'])('payment gateway mock (%s)', (name) => {
  const v = () => variants.find((x) => x.name === name)!;

  it('charges the success cards once per idempotency key', async () => {
    for (const card of TEST_CARDS.filter((c) => c.behaviour.kind === 'succeed')) {
      const key = `${name}-ok-${card.number.slice(-4)}`;
      const first = await v().gateway.charge(chargeOf(card.number, key));
      const again = await v().gateway.charge(chargeOf(card.number, key));
      expect(first.status).toBe('succeeded');
      expect(again.chargeId).toBe(first.chargeId);
      const stored = await v().store.findChargeByKey(key);
      expect(stored).toMatchObject({ cardLast4: card.number.slice(-4), cardBrand: card.brand, status: 'succeeded' });
    }
  });

  it('declines the decline cards with their codes', async () => {
    for (const card of TEST_CARDS) {
      if (card.behaviour.kind !== 'decline') continue;
      const result = await v().gateway.charge(chargeOf(card.number, `${name}-decline-${card.number.slice(-4)}`));
      expect(result).toMatchObject({ status: 'declined', declineCode: card.behaviour.declineCode });
    }
  });

  it('a processing-error card fails as "not processed" and charges nothing', async () => {
    const failure = await failureOf(v().gateway.charge(chargeOf('4000000000000119', `${name}-proc`)));
    expect(failure.kind).toBe('not_processed');
    expect(await v().store.findChargeByKey(`${name}-proc`)).toBeNull();
  });

  it('the timeout card never answers within the deadline and charges nothing', async () => {
    const failure = await failureOf(v().impatient.charge(chargeOf('4000000000001018', `${name}-timeout`)));
    expect(failure.kind).toBe('timeout');
    expect(await v().gateway.findCharge(`${name}-timeout`)).toBeNull();
  });

  it('the fail-after-charge card charges, loses the answer, and a retry with the same key finds the charge', async () => {
    const key = `${name}-lost-answer`;
    const failure = await failureOf(v().gateway.charge(chargeOf('4000000000001505', key)));
    expect(failure.kind).toBe('unknown');
    const retried = await v().gateway.charge(chargeOf('4000000000001505', key));
    expect(retried.status).toBe('succeeded');
    expect((await v().store.listCharges(1000)).filter((c) => c.idempotencyKey === key)).toHaveLength(1);
  });

  it('the charge-then-late card charges, times out, and the lookup finds the charge', async () => {
    const key = `${name}-late`;
    const failure = await failureOf(v().impatient.charge(chargeOf('4000000000003402', key)));
    expect(failure.kind).toBe('timeout');
    expect(await v().gateway.findCharge(key)).toMatchObject({ status: 'succeeded' });
  });

  it('refuses a second, different charge under one key', async () => {
    const key = `${name}-reuse`;
    await v().gateway.charge(chargeOf('4242424242424242', key, 1_000n));
    const failure = await failureOf(v().gateway.charge(chargeOf('4242424242424242', key, 2_000n)));
    expect(failure.kind).toBe('rejected');
  });

  it('refunds once, idempotently, and refuses to refund declines or unknown charges', async () => {
    const charge = await v().gateway.charge(chargeOf('4242424242424242', `${name}-refund`));
    const first = await v().gateway.refund({ chargeId: charge.chargeId, idempotencyKey: `${name}-refund-r` });
    const again = await v().gateway.refund({ chargeId: charge.chargeId, idempotencyKey: `${name}-refund-r` });
    expect(again.refundId).toBe(first.refundId);
    expect((await v().store.findChargeById(charge.chargeId))?.refundId).toBe(first.refundId);

    const declined = await v().gateway.charge(chargeOf('4000000000000002', `${name}-refund-declined`));
    expect((await failureOf(v().gateway.refund({ chargeId: declined.chargeId, idempotencyKey: 'x' }))).kind).toBe('rejected');
    expect((await failureOf(v().gateway.refund({ chargeId: 'ch_nope', idempotencyKey: 'y' }))).kind).toBe('rejected');
  });

  it('concurrent charges with one key make one charge', async () => {
    const key = `${name}-concurrent`;
    const results = await Promise.all(Array.from({ length: 10 }, () => v().gateway.charge(chargeOf('4242424242424242', key))));
    expect(new Set(results.map((r) => r.chargeId)).size).toBe(1);
  });

  it('answers pings', async () => {
    await expect(v().gateway.ping()).resolves.toBeUndefined();
    await v().gateway.close();
  });
});

describe('HTTP gateway client failure classification', () => {
  it('an unreachable gateway is "not processed" (the request never left)', async () => {
    const port = await freePort();
    const gateway = new HttpPaymentGateway(`http://127.0.0.1:${port}`, TIMEOUT_MS);
    const failure = await failureOf(gateway.charge(chargeOf('4242424242424242', 'unreachable')));
    expect(failure.kind).toBe('not_processed');
    expect((await failureOf(gateway.ping())).kind).toBe('not_processed');
  });

  describe('against a misbehaving server', () => {
    let bad: Server;
    let gateway: HttpPaymentGateway;
    beforeAll(async () => {
      bad = createServer((req, res) => {
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
      gateway = new HttpPaymentGateway(`http://127.0.0.1:${(bad.address() as AddressInfo).port}`, TIMEOUT_MS);
    });
    afterAll(async () => {
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

describe('mock server protocol', () => {
  it('answers 400 to bad requests and 404 to unknown routes, and serves its ledger', async () => {
    const base = `http://127.0.0.1:${server.port}`;
    const noKey = await fetch(`${base}/v1/charges`, { method: 'POST', body: '{}' });
    expect(noKey.status).toBe(400);
    const badBody = await fetch(`${base}/v1/charges`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body: 'nope' });
    expect(badBody.status).toBe(400);
    const badCard = await fetch(`${base}/v1/charges`, {
      method: 'POST',
      headers: { 'idempotency-key': 'k' },
      body: JSON.stringify({ amountMinor: '100', currency: 'USD', card: { number: '12' } }),
    });
    expect(badCard.status).toBe(400);
    expect((await fetch(`${base}/v1/charges`)).status).toBe(400);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const ledger = (await (await fetch(`${base}/v1/ledger?limit=5`)).json()) as { charges: { amountMinor: string }[] };
    expect(ledger.charges.length).toBeLessThanOrEqual(5);
    expect(typeof ledger.charges[0]?.amountMinor).toBe('string');
  });

  it('never keeps the full card number in its ledger', async () => {
    const ledger = await (await fetch(`http://127.0.0.1:${server.port}/v1/ledger?limit=1000`)).text();
    expect(ledger).not.toContain('4242424242424242');
  });

  it('reads --port from the command line', () => {
    expect(portFromArgs(['--port', '9999'])).toBe(9999);
    expect(portFromArgs([])).toBeUndefined();
    expect(() => portFromArgs(['--port', 'x'])).toThrow();
  });
});

describe('failure injection and deadlines', () => {
  it('a seeded failure rate is reproducible', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });

  it('failure rate 1 fails every charge and refund as not processed', async () => {
    const store = new MemoryMockGatewayStore();
    const okEngine = new MockPaymentGatewayEngine(store, { latencyMs: 0, failureRate: 0, seed: 1 });
    const charge = await okEngine.charge(chargeOf('4242424242424242', 'pre'), new AbortController().signal);
    const gateway = new InProcessPaymentGateway(new MockPaymentGatewayEngine(store, { latencyMs: 0, failureRate: 1, seed: 1 }), TIMEOUT_MS);
    expect((await failureOf(gateway.charge(chargeOf('4242424242424242', 'always-fails')))).kind).toBe('not_processed');
    expect((await failureOf(gateway.refund({ chargeId: charge.chargeId, idempotencyKey: 'r' }))).kind).toBe('not_processed');
  });

  it('latency beyond the deadline is a timeout, also for lookups and refunds', async () => {
    const gateway = new InProcessPaymentGateway(new MockPaymentGatewayEngine(new MemoryMockGatewayStore(), { latencyMs: 2_000, failureRate: 0, seed: 1 }), 50);
    expect((await failureOf(gateway.findCharge('k'))).kind).toBe('timeout');
    expect((await failureOf(gateway.refund({ chargeId: 'c', idempotencyKey: 'r' }))).kind).toBe('timeout');
  });

  it('withDeadline passes results through and wraps unexpected errors as unknown', async () => {
    await expect(withDeadline(100, async () => 42)).resolves.toBe(42);
    expect(asGatewayError(new Error('boom')).kind).toBe('unknown');
  });
});
