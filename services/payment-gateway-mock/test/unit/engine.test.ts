// The mock provider's rules without I/O: test cards, idempotency, refunds,
// injected failures and the caller's deadline.
import { waitFor } from '@wallet/testkit';
import { describe, expect, it } from 'vitest';
import { PaymentGatewayEngine, type EngineOptions } from '../../src/app/engine.js';
import { detectBrand } from '../../src/domain/card.js';
import { GatewayFault } from '../../src/domain/faults.js';
import { seededRandom } from '../../src/domain/random.js';
import { TEST_CARDS } from '../../src/domain/test-cards.js';
import { MemoryChargeStore } from '../support/memory-store.js';

const OPTIONS: EngineOptions = { latencyMs: 0, failureRate: 0, seed: 1, lateChargeDelayMs: 50 };
const open = () => new AbortController().signal;

function engine(options: Partial<EngineOptions> = {}) {
  const store = new MemoryChargeStore();
  return { store, engine: new PaymentGatewayEngine(store, { ...OPTIONS, ...options }) };
}

function chargeOf(number: string, key: string, amountMinor = 1_000n) {
  return { idempotencyKey: key, amountMinor, currency: 'USD', card: { number, expiryMonth: 12, expiryYear: 2030, cvc: '123' } };
}

async function faultOf(promise: Promise<unknown>): Promise<GatewayFault> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GatewayFault) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** A signal that aborts after ms: the caller's deadline. */
const deadline = (ms: number) => AbortSignal.timeout(ms);

describe('test cards', () => {
  it('every test card passes Luhn and has the brand its number says', () => {
    for (const card of TEST_CARDS) expect(detectBrand(card.number)).toBe(card.brand);
  });

  it('charges the success cards once per idempotency key', async () => {
    const { engine: e, store } = engine();
    for (const card of TEST_CARDS.filter((c) => c.behaviour.kind === 'succeed')) {
      const first = await e.charge(chargeOf(card.number, `ok-${card.number}`), open());
      const again = await e.charge(chargeOf(card.number, `ok-${card.number}`), open());
      expect(first.status).toBe('succeeded');
      expect(again.chargeId).toBe(first.chargeId);
      expect(await store.findChargeByKey(`ok-${card.number}`)).toMatchObject({ cardLast4: card.number.slice(-4), cardBrand: card.brand });
    }
  });

  it('declines the decline cards with their codes', async () => {
    const { engine: e } = engine();
    for (const card of TEST_CARDS) {
      if (card.behaviour.kind !== 'decline') continue;
      expect(await e.charge(chargeOf(card.number, `d-${card.number}`), open())).toMatchObject({ status: 'declined', declineCode: card.behaviour.declineCode });
    }
  });

  it('a processing-error card is "not processed" and charges nothing', async () => {
    const { engine: e, store } = engine();
    expect((await faultOf(e.charge(chargeOf('4000000000000119', 'proc'), open()))).kind).toBe('not_processed');
    expect(await store.findChargeByKey('proc')).toBeNull();
  });

  it('the timeout card waits for the caller to give up and charges nothing', async () => {
    const { engine: e, store } = engine();
    expect((await faultOf(e.charge(chargeOf('4000000000001018', 't'), deadline(20)))).code).toBe('caller_gave_up');
    expect(await store.findChargeByKey('t')).toBeNull();
  });

  it('the fail-after-charge card charges, loses the answer, and a retry with the same key finds the charge', async () => {
    const { engine: e, store } = engine();
    const fault = await faultOf(e.charge(chargeOf('4000000000001505', 'lost'), open()));
    expect(fault).toMatchObject({ kind: 'unknown', dropConnection: true });
    expect((await e.charge(chargeOf('4000000000001505', 'lost'), open())).status).toBe('succeeded');
    expect((await store.listCharges(100)).filter((c) => c.idempotencyKey === 'lost')).toHaveLength(1);
  });

  it('the charge-then-late card charges, then answers only after the deadline', async () => {
    const { engine: e } = engine();
    await faultOf(e.charge(chargeOf('4000000000003402', 'late-answer'), deadline(20)));
    expect(await e.findCharge('late-answer', open())).toMatchObject({ status: 'succeeded' });
  });

  it('the charge-late card has no charge when the caller gives up, and one a little later', async () => {
    const { engine: e } = engine({ lateChargeDelayMs: 100 });
    await faultOf(e.charge(chargeOf('4000000000007726', 'lands-late'), deadline(10)));
    expect(await e.findCharge('lands-late', open())).toBeNull();
    await waitFor(async () => (await e.findCharge('lands-late', open())) !== null, { what: 'the late charge to land' });
    e.close();
  });

  it('refuses a second, different charge under one key', async () => {
    const { engine: e } = engine();
    await e.charge(chargeOf('4242424242424242', 'reuse', 1_000n), open());
    expect((await faultOf(e.charge(chargeOf('4242424242424242', 'reuse', 2_000n), open()))).kind).toBe('rejected');
  });
});

describe('refunds', () => {
  it('refunds in parts, never more than the charge in total; a key answers its own refund again', async () => {
    const { engine: e, store } = engine();
    const charge = await e.charge(chargeOf('4242424242424242', 'parts', 1_000n), open());
    const first = await e.refund({ chargeId: charge.chargeId, idempotencyKey: 'p1', amountMinor: 600n }, open());
    expect(first).toMatchObject({ status: 'succeeded', amountMinor: 600n });
    expect(await e.refund({ chargeId: charge.chargeId, idempotencyKey: 'p1', amountMinor: 600n }, open())).toEqual(first);
    expect((await faultOf(e.refund({ chargeId: charge.chargeId, idempotencyKey: 'p1', amountMinor: 5n }, open()))).code).toBe('idempotency_key_reused');
    expect(await faultOf(e.refund({ chargeId: charge.chargeId, idempotencyKey: 'p2', amountMinor: 401n }, open()))).toMatchObject({ kind: 'rejected', code: 'refund_exceeds_charge' });
    expect((await store.findChargeById(charge.chargeId))?.refundId).toBeNull();
    // Absent amount: the rest; the charge is then refunded in full.
    const rest = await e.refund({ chargeId: charge.chargeId, idempotencyKey: 'p3' }, open());
    expect(rest.amountMinor).toBe(400n);
    expect((await store.findChargeById(charge.chargeId))?.refundId).toBe(rest.refundId);
    expect(await e.findRefund('p1', open())).toEqual(first);
    expect(await e.findRefund('never', open())).toBeNull();
  });

  it('the refund-timeout card never answers a refund and refunds nothing; the answer-lost card refunds, then never answers', async () => {
    const { engine: e } = engine();
    const silent = await e.charge(chargeOf('4000000000006272', 'silent'), open());
    expect((await faultOf(e.refund({ chargeId: silent.chargeId, idempotencyKey: 'silent-r' }, deadline(20)))).code).toBe('caller_gave_up');
    expect(await e.findRefund('silent-r', open())).toBeNull();
    const lost = await e.charge(chargeOf('4000000000006280', 'lost'), open());
    expect((await faultOf(e.refund({ chargeId: lost.chargeId, idempotencyKey: 'lost-r', amountMinor: 300n }, deadline(20)))).code).toBe('caller_gave_up');
    expect(await e.findRefund('lost-r', open())).toMatchObject({ chargeId: lost.chargeId, amountMinor: 300n });
  });

  it('refunds once, idempotently; refuses declines, unknown charges and the refund-declined card', async () => {
    const { engine: e } = engine();
    const charge = await e.charge(chargeOf('4242424242424242', 'r'), open());
    const first = await e.refund({ chargeId: charge.chargeId, idempotencyKey: 'r-r' }, open());
    expect((await e.refund({ chargeId: charge.chargeId, idempotencyKey: 'r-r' }, open())).refundId).toBe(first.refundId);
    const declined = await e.charge(chargeOf('4000000000000002', 'r-d'), open());
    expect((await faultOf(e.refund({ chargeId: declined.chargeId, idempotencyKey: 'x' }, open()))).code).toBe('charge_not_refundable');
    expect((await faultOf(e.refund({ chargeId: 'ch_nope', idempotencyKey: 'y' }, open()))).code).toBe('charge_not_found');
    const stuck = await e.charge(chargeOf('4000000000005126', 'r-stuck'), open());
    expect(stuck.status).toBe('succeeded');
    expect(await faultOf(e.refund({ chargeId: stuck.chargeId, idempotencyKey: 'z' }, open()))).toMatchObject({ kind: 'rejected', code: 'refund_declined' });
  });
});

describe('failure injection', () => {
  it('a seeded failure rate is reproducible', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    expect(Array.from({ length: 5 }, a)).toEqual(Array.from({ length: 5 }, b));
  });

  it('failure rate 1 fails every new charge and refund as not processed', async () => {
    const store = new MemoryChargeStore();
    const charge = await new PaymentGatewayEngine(store, OPTIONS).charge(chargeOf('4242424242424242', 'pre'), open());
    const failing = new PaymentGatewayEngine(store, { ...OPTIONS, failureRate: 1 });
    expect((await faultOf(failing.charge(chargeOf('4242424242424242', 'always-fails'), open()))).kind).toBe('not_processed');
    expect((await faultOf(failing.refund({ chargeId: charge.chargeId, idempotencyKey: 'r' }, open()))).kind).toBe('not_processed');
  });

  it('latency beyond the caller deadline ends every call when the caller gives up', async () => {
    const { engine: e } = engine({ latencyMs: 5_000 });
    expect((await faultOf(e.findCharge('k', deadline(20)))).code).toBe('caller_gave_up');
    expect((await faultOf(e.refund({ chargeId: 'c', idempotencyKey: 'r' }, deadline(20)))).code).toBe('caller_gave_up');
  });
});
