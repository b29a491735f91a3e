// The top-up saga end to end inside one process: real PostgreSQL, the mock
// gateway in-process (ledger in PostgreSQL), a fake bank over real gRPC.
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InProcessPaymentGateway } from '../../src/clients/payment-gateway/in-process.js';
import { MockPaymentGatewayEngine } from '../../src/payment-gateway-mock/engine.js';
import { PgMockGatewayStore } from '../../src/payment-gateway-mock/pg-store.js';
import { TEST_CARDS } from '../../src/payment-gateway-mock/test-cards.js';
import { dropTestDatabase } from '../support/db.js';
import { ControllableGateway, networkDropped } from '../support/controllable-gateway.js';
import { FakeBank } from '../support/fake-bank.js';
import {
  ACCOUNT,
  callTopUp,
  chargesFor,
  everythingStored,
  journalByKey,
  journalRow,
  request,
  startTestAdapter,
  type TestAdapter,
} from '../support/harness.js';

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let gateway: ControllableGateway;
let t: TestAdapter;

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_saga');
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  bank = await new FakeBank().start();
  gateway = new ControllableGateway(
    new InProcessPaymentGateway(new MockPaymentGatewayEngine(new PgMockGatewayStore(pool), { latencyMs: 0, failureRate: 0, seed: 1 }), 1_000),
  );
  t = await startTestAdapter({ DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address }, { gateway });
});

afterAll(async () => {
  await t?.stop();
  await bank?.stop();
  await pool?.end();
  await dropTestDatabase(db);
});

beforeEach(() => {
  bank.plan = () => 'ok';
  bank.unknownAccounts.clear();
  gateway.reset();
});

async function ledgerSize(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM card_adapter.mock_gateway_charges');
  return Number(rows[0]?.n);
}

async function journalSize(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM card_adapter.top_ups');
  return Number(rows[0]?.n);
}

function depositOf(topUpId: string) {
  return bank.deposits.get(`topup-${topUpId}`);
}

describe('successful top-ups', () => {
  it.each(TEST_CARDS.filter((c) => c.behaviour.kind === 'succeed').map((c) => [c.number, c.brand]))(
    'card %s (%s): charged once, deposited once, last4 and brand passed to the bank',
    async (number, brand) => {
      const result = await t.topUp({ card: { number } });
      expect(result.err).toBeUndefined();
      const topUp = result.ok!.topUp!;
      expect(result.ok!.replayed).toBe(false);
      expect(topUp).toMatchObject({
        accountId: ACCOUNT,
        status: TopUpStatus.TOP_UP_STATUS_COMPLETED,
        cardLast4: number.slice(-4),
        cardBrand: brand,
        amount: { amountMinor: 2_500n, currencyCode: 'USD' },
      });
      const charges = await chargesFor(pool, topUp.id);
      expect(charges).toHaveLength(1);
      expect(charges[0]).toMatchObject({ status: 'succeeded', refund_id: null, amount_minor: '2500' });
      expect(depositOf(topUp.id)).toMatchObject({ accountId: ACCOUNT, amountMinor: 2_500n, topUpId: topUp.id, cardLast4: number.slice(-4), cardBrand: brand });
      expect(bank.callsFor(`topup-${topUp.id}`)).toBe(1);
      expect(await journalRow(pool, topUp.id)).toMatchObject({ state: 'COMPLETED', charge_attempts: 1, deposit_attempts: 1 });
    },
  );

  it('accepts a card number typed with spaces', async () => {
    const result = await t.topUp({ card: { number: '4242 4242 4242 4242' } });
    expect(result.ok?.topUp?.cardLast4).toBe('4242');
  });

  it('replays a completed top-up for the same key and request, without charging again', async () => {
    const req = request();
    const first = await callTopUp(t.client, req);
    const again = await callTopUp(t.client, req);
    expect(again.ok?.replayed).toBe(true);
    expect(again.ok?.topUp?.id).toBe(first.ok?.topUp?.id);
    expect(await chargesFor(pool, first.ok!.topUp!.id)).toHaveLength(1);
    expect(bank.callsFor(`topup-${first.ok!.topUp!.id}`)).toBe(1);
  });

  it('refuses the same key with a different request (IDEMPOTENCY_KEY_REUSED) and changes nothing', async () => {
    const req = request();
    const first = await callTopUp(t.client, req);
    const before = await ledgerSize();
    const other = await callTopUp(t.client, { ...req, amount: { amountMinor: 9_999n, currencyCode: 'USD' } });
    expect(other.err).toMatchObject({ code: Status.FAILED_PRECONDITION, reason: 'IDEMPOTENCY_KEY_REUSED', domain: 'card-adapter.wallet' });
    expect(other.err?.metadata.charged).toBe('false');
    const otherCard = await callTopUp(t.client, { ...req, card: { ...req.card!, number: '5555555555554444' } });
    expect(otherCard.err?.reason).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await ledgerSize()).toBe(before);
    expect(await chargesFor(pool, first.ok!.topUp!.id)).toHaveLength(1);
  });

  it('the same key on another account is another top-up', async () => {
    const key = randomUUID();
    const a = await callTopUp(t.client, request({ idempotencyKey: key }));
    const b = await callTopUp(t.client, request({ idempotencyKey: key, accountId: '987e6543-e21b-34d3-c456-426614174999' }));
    expect(a.ok?.topUp?.id).not.toBe(b.ok?.topUp?.id);
    expect(b.ok?.replayed).toBe(false);
  });
});

describe('checks before any charge', () => {
  it.each([
    ['a Luhn-invalid number', { card: { number: '4242424242424241' } }, 'INVALID_CARD_NUMBER', 'card.number'],
    ['a too short number', { card: { number: '42424242' } }, 'INVALID_CARD_NUMBER', 'card.number'],
    ['an expired card', { card: { expiryMonth: 1, expiryYear: 2020 } }, 'CARD_EXPIRED', 'card.expiry'],
    ['a 2-digit CVC', { card: { cvc: '12' } }, 'INVALID_CVC', 'card.cvc'],
    ['an amount under 1.00', { amount: { amountMinor: 99n, currencyCode: 'USD' } }, 'INVALID_AMOUNT', 'amount.amount_minor'],
    ['an amount over 10,000.00', { amount: { amountMinor: 1_000_001n, currencyCode: 'USD' } }, 'INVALID_AMOUNT', 'amount.amount_minor'],
    ['no amount', { amount: undefined }, 'INVALID_AMOUNT', 'amount.amount_minor'],
    ['a bad account id', { accountId: 'nope' }, 'INVALID_ARGUMENT', 'account_id'],
    ['no idempotency key', { idempotencyKey: '' }, 'INVALID_ARGUMENT', 'idempotency_key'],
  ] as const)('rejects %s with INVALID_ARGUMENT / %s and changes nothing', async (_name, overrides, reason, field) => {
    const ledgerBefore = await ledgerSize();
    const journalBefore = await journalSize();
    const { card, ...rest } = overrides as { card?: Record<string, unknown> };
    const result = await callTopUp(t.client, request(rest as never, card ?? {}));
    expect(result.err).toMatchObject({ code: Status.INVALID_ARGUMENT, reason, domain: 'card-adapter.wallet' });
    expect(result.err?.metadata.charged).toBe('false');
    expect(result.err?.fieldViolations.map((v) => v.field)).toContain(field);
    expect(await ledgerSize()).toBe(ledgerBefore);
    expect(await journalSize()).toBe(journalBefore);
  });

  it('refuses a currency other than USD with CURRENCY_MISMATCH', async () => {
    const result = await callTopUp(t.client, request({ amount: { amountMinor: 2_500n, currencyCode: 'EUR' } }));
    expect(result.err).toMatchObject({ code: Status.FAILED_PRECONDITION, reason: 'CURRENCY_MISMATCH' });
  });

  it('an unknown account is NOT_FOUND before anything is charged or journaled', async () => {
    const accountId = randomUUID();
    bank.unknownAccounts.add(accountId);
    const ledgerBefore = await ledgerSize();
    const journalBefore = await journalSize();
    const result = await callTopUp(t.client, request({ accountId }));
    expect(result.err).toMatchObject({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND' });
    expect(result.err?.metadata.charged).toBe('false');
    expect(await ledgerSize()).toBe(ledgerBefore);
    expect(await journalSize()).toBe(journalBefore);
  });
});

describe('declines (REST 402): nothing charged, nothing deposited', () => {
  it.each([
    ['4000000000000002', 'CARD_DECLINED', 'generic_decline'],
    ['4000000000009995', 'CARD_INSUFFICIENT_FUNDS', 'insufficient_funds'],
    ['4000000000009987', 'CARD_DECLINED', 'lost_card'],
    ['4000000000000069', 'CARD_DECLINED', 'expired_card'],
  ])('card %s -> FAILED_PRECONDITION %s (%s), and the replay says the same', async (number, reason, declineCode) => {
    const req = request({}, { number });
    const result = await callTopUp(t.client, req);
    expect(result.err).toMatchObject({ code: Status.FAILED_PRECONDITION, reason });
    expect(result.err?.metadata).toMatchObject({ charged: 'false', decline_code: declineCode });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'DECLINED' });
    expect(depositOf(topUpId)).toBeUndefined();
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(0);

    const replay = await callTopUp(t.client, req);
    expect(replay.err).toMatchObject({ code: Status.FAILED_PRECONDITION, reason });
    expect(replay.err?.metadata).toMatchObject({ replayed: 'true', decline_code: declineCode, top_up_id: topUpId });
    expect(await chargesFor(pool, topUpId)).toHaveLength(1);
  });
});

describe('payment gateway failures', () => {
  it('a gateway that cannot process the charge: UNAVAILABLE PAYMENT_GATEWAY_ERROR, nothing charged', async () => {
    const result = await t.topUp({ card: { number: '4000000000000119' } });
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'PAYMENT_GATEWAY_ERROR' });
    expect(result.err?.metadata.charged).toBe('false');
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'FAILED', charge_attempts: 2, failure_reason: 'PAYMENT_GATEWAY_ERROR' });
    expect(await chargesFor(pool, topUpId)).toHaveLength(0);
  });

  it('the timeout card: pending (charged=true) at first, then the recovery loop settles it as not charged', async () => {
    const req = request({}, { number: '4000000000001018' });
    const result = await callTopUp(t.client, req);
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata).toMatchObject({ charged: 'true', charge_status: 'unknown', cause: 'timeout' });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'CHARGING', charge_attempts: 2 });

    // Once the deadline plus the grace period has passed, "no charge at the gateway" is final.
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        return (await journalRow(pool, topUpId)).state === 'FAILED';
      },
      { what: 'the timed-out top-up to be settled' },
    );
    const replay = await callTopUp(t.client, req);
    expect(replay.err).toMatchObject({ code: Status.DEADLINE_EXCEEDED, reason: 'PAYMENT_GATEWAY_TIMEOUT' });
    expect(replay.err?.metadata).toMatchObject({ charged: 'false', replayed: 'true' });
    expect(await chargesFor(pool, topUpId)).toHaveLength(0);
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(0);
  });

  it('the fail-after-charge card: the retry with the same key finds the charge; one charge, one deposit', async () => {
    const result = await t.topUp({ card: { number: '4000000000001505' } });
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    const topUpId = result.ok!.topUp!.id;
    expect(await chargesFor(pool, topUpId)).toHaveLength(1);
    expect(await journalRow(pool, topUpId)).toMatchObject({ charge_attempts: 2 });
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(1);
  });

  it('the charge-then-late card: charged, answer too late; the retry finds the charge; completed once', async () => {
    const result = await t.topUp({ card: { number: '4000000000003402' } });
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    expect(await chargesFor(pool, result.ok!.topUp!.id)).toHaveLength(1);
  });

  it('a network failure with unknown outcome leaves the top-up pending; the client retry resumes it with one charge', async () => {
    gateway.chargeFault = networkDropped();
    const req = request();
    const first = await callTopUp(t.client, req);
    expect(first.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(first.err?.metadata.charged).toBe('true');
    const topUpId = first.err!.metadata.top_up_id!;

    gateway.chargeFault = undefined;
    const retry = await callTopUp(t.client, req);
    expect(retry.ok?.topUp?.id).toBe(topUpId);
    expect(retry.ok?.replayed).toBe(true);
    expect(await chargesFor(pool, topUpId)).toHaveLength(1);
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(1);
  });
});

describe('deposit failures: retried, then compensated by a refund', () => {
  it('a bank failing twice, then succeeding: completed with one deposit after three attempts', async () => {
    bank.plan = (n) => (n < 2 ? 'unavailable' : 'ok');
    const result = await t.topUp({});
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    const topUpId = result.ok!.topUp!.id;
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(3);
    expect(depositOf(topUpId)).toBeDefined();
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'COMPLETED', deposit_attempts: 3 });
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
  });

  it('a bank that keeps failing: refunded, ABORTED DEPOSIT_FAILED_REFUNDED, charged=false', async () => {
    bank.plan = () => 'unavailable';
    const req = request();
    const result = await callTopUp(t.client, req);
    expect(result.err).toMatchObject({ code: Status.ABORTED, reason: 'DEPOSIT_FAILED_REFUNDED' });
    expect(result.err?.metadata).toMatchObject({ charged: 'false', refunded: 'true', deposit_error: 'STORAGE_UNAVAILABLE' });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(3);
    expect(depositOf(topUpId)).toBeUndefined();
    const charges = await chargesFor(pool, topUpId);
    expect(charges).toHaveLength(1);
    expect(charges[0]?.refund_id).not.toBeNull();
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'REFUNDED', refund_attempts: 1 });

    bank.plan = () => 'ok';
    const replay = await callTopUp(t.client, req);
    expect(replay.err).toMatchObject({ reason: 'DEPOSIT_FAILED_REFUNDED' });
    expect(depositOf(topUpId)).toBeUndefined();
  });

  it('a permanent refusal (ACCOUNT_NOT_FOUND at deposit) is refunded at once, without retries', async () => {
    bank.plan = () => 'account_not_found';
    const result = await t.topUp({});
    expect(result.err).toMatchObject({ code: Status.ABORTED, reason: 'DEPOSIT_FAILED_REFUNDED' });
    expect(result.err?.metadata).toMatchObject({ charged: 'false', deposit_error: 'ACCOUNT_NOT_FOUND' });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(1);
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).not.toBeNull();
  });

  it('a deposit whose outcome is unknown is never refunded blindly: pending until the bank answers, then completed once', async () => {
    bank.plan = () => 'apply_then_hang';
    const result = await t.topUp({});
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata).toMatchObject({ charged: 'true', charge_status: 'charged' });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'CHARGED' });

    bank.plan = () => 'ok';
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        return (await journalRow(pool, topUpId)).state === 'COMPLETED';
      },
      { what: 'recovery to complete the deposit' },
    );
    expect(depositOf(topUpId)).toBeDefined();
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
  });

  it('a refund that fails is retried by the recovery loop until the charge is refunded once', async () => {
    bank.plan = () => 'unavailable';
    gateway.refundFault = networkDropped();
    const req = request();
    const result = await callTopUp(t.client, req);
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata.charged).toBe('true');
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'REFUNDING', refund_attempts: 3 });

    gateway.refundFault = undefined;
    bank.plan = () => 'ok'; // too late: once REFUNDING, the saga never deposits
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        return (await journalRow(pool, topUpId)).state === 'REFUNDED';
      },
      { what: 'recovery to refund' },
    );
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).not.toBeNull();
    expect(depositOf(topUpId)).toBeUndefined();
    const replay = await callTopUp(t.client, req);
    expect(replay.err).toMatchObject({ reason: 'DEPOSIT_FAILED_REFUNDED' });
    expect(replay.err?.metadata.charged).toBe('false');
  });
});

describe('concurrency', () => {
  it('concurrent duplicate requests make one charge and one deposit', async () => {
    let open!: () => void;
    gateway.chargeGate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const req = request();
    const calls = Array.from({ length: 10 }, () => callTopUp(t.client, req));
    await waitFor(async () => (await journalByKey(pool, req.idempotencyKey))?.state === 'CHARGING', { what: 'the first charge to start' });
    open();
    const results = await Promise.all(calls);
    const firsts = results.filter((r) => r.ok && !r.ok.replayed);
    expect(firsts).toHaveLength(1);
    for (const r of results) {
      if (r.err) expect(r.err).toMatchObject({ code: Status.ABORTED, reason: 'IDEMPOTENCY_KEY_IN_FLIGHT' });
      else expect(r.ok.topUp?.id).toBe(firsts[0]!.ok!.topUp!.id);
    }
    const topUpId = firsts[0]!.ok!.topUp!.id;
    expect(await chargesFor(pool, topUpId)).toHaveLength(1);
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(1);
    expect(gateway.chargeCalls).toBeGreaterThanOrEqual(1);
  });

  it('a retry while the first request is in flight gets ABORTED IDEMPOTENCY_KEY_IN_FLIGHT', async () => {
    let open!: () => void;
    gateway.chargeGate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const req = request();
    const first = callTopUp(t.client, req);
    await waitFor(async () => (await journalByKey(pool, req.idempotencyKey))?.state === 'CHARGING', { what: 'the charge to start' });
    const second = await callTopUp(t.client, req);
    open();
    expect(second.err).toMatchObject({ code: Status.ABORTED, reason: 'IDEMPOTENCY_KEY_IN_FLIGHT' });
    expect(second.err?.metadata.charged).toBe('true');
    expect((await first).ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
  });
});

describe('card data and operations', () => {
  it('never stores or logs a card number or a CVC', async () => {
    const stored = await everythingStored(pool);
    const logs = t.lines.join('\n');
    expect(stored.length).toBeGreaterThan(0);
    expect(logs.length).toBeGreaterThan(0);
    for (const card of TEST_CARDS) {
      expect(stored).not.toContain(card.number);
      expect(logs).not.toContain(card.number);
    }
    // No field named cvc anywhere (the reason INVALID_CVC may appear, the value may not).
    expect(logs).not.toMatch(/"cvc"\s*:/i);
    expect(stored).not.toMatch(/"cvc"\s*:|\bcvc\b/i);
  });

  it('serves /healthz, /readyz (database and bank reachable) and /metrics with top-up outcomes', async () => {
    const base = `http://127.0.0.1:${t.adapter.ops.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ checks: { database: 'ok', bank: 'ok', paymentGateway: 'ok' } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/card_adapter_top_ups_total\{[^}]*outcome="completed"/);
    expect(metrics).toMatch(/card_adapter_top_ups_total\{[^}]*outcome="declined"/);
    expect(metrics).toMatch(/card_adapter_recovery_actions_total\{[^}]*action="failed"/);
    expect(metrics).toContain('card_adapter_unfinished_top_ups');
  });
});
