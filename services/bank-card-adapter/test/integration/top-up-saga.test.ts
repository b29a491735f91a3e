// The top-up saga end to end: the adapter in-process with real PostgreSQL, the
// payment gateway mock as its own process over HTTP (wrapped so a test can
// break the network), a fake bank over real gRPC.
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeTestIssuer } from '../support/auth.js';
import { dropTestDatabase } from '../support/db.js';
import { ControllableGateway, networkDropped } from '../support/controllable-gateway.js';
import { FakeBank } from '../support/fake-bank.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';
import { ALL_CARD_NUMBERS, CARDS, SUCCESS_CARDS } from '../support/test-cards.js';
import {
  ACCOUNT,
  callGetTopUp,
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
let mock: MockGatewayProcess;
let t: TestAdapter;

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_saga');
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  bank = await new FakeBank().start();
  // The late-charge card's charge lands well after the top-up has failed (deadline 1 s + grace 0.2 s, twice).
  mock = await MockGatewayProcess.start(db.url, { PAYMENT_GATEWAY_MOCK_LATE_CHARGE_DELAY_MS: '12000' });
  gateway = new ControllableGateway(await gatewayClient(mock.url, 2_000));
  // A grace period that a loaded machine's lookup cannot overrun, so "pending first" is deterministic.
  t = await startTestAdapter({ DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address, CARD_ADAPTER_CHARGE_RESOLUTION_GRACE_MS: '3000' }, { gateway });
});

afterAll(async () => {
  await t?.stop();
  await bank?.stop();
  await mock?.stop();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

beforeEach(() => {
  bank.plan = () => 'ok';
  bank.lookupPlan = () => 'ok';
  bank.unknownAccounts.clear();
  gateway.reset();
});

async function ledgerSize(): Promise<number> {
  const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM payment_gateway_mock.charges');
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
  it.each(SUCCESS_CARDS)(
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

  it('the timeout card: pending with charged=unknown (never claimed charged) at first, then the recovery loop settles it as not charged', async () => {
    const req = request({}, { number: '4000000000001018' });
    const result = await callTopUp(t.client, req);
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata).toMatchObject({ charged: 'unknown', charge_status: 'unknown', cause: 'timeout' });
    expect(result.err?.message).toMatch(/not known whether the card was charged/);
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'CHARGING', charge_attempts: 2 });

    // Once the deadline plus the grace period has passed, "no charge at the gateway" is final.
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        return (await journalRow(pool, topUpId)).state === 'FAILED';
      },
      { timeoutMs: 30_000, what: 'the timed-out top-up to be settled' },
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
    expect(first.err?.metadata.charged).toBe('unknown');
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

  it('a bank that keeps failing but answers GetDeposit: refunded only once the bank voided the reference', async () => {
    bank.plan = () => 'unavailable';
    const req = request();
    const result = await callTopUp(t.client, req);
    expect(result.err).toMatchObject({ code: Status.ABORTED, reason: 'DEPOSIT_FAILED_REFUNDED' });
    expect(result.err?.metadata).toMatchObject({ charged: 'false', refunded: 'true', deposit_error: 'DEPOSIT_REFERENCE_VOIDED' });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(3);
    expect(bank.lookupsFor(`topup-${topUpId}`)).toBe(1);
    expect(bank.voided.has(`topup-${topUpId}`)).toBe(true);
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

  it('a deposit applied whose every reply was lost is found by GetDeposit: completed once, never refunded', async () => {
    bank.plan = () => 'apply_then_hang';
    const result = await t.topUp({});
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    const topUpId = result.ok!.topUp!.id;
    expect(bank.lookupsFor(`topup-${topUpId}`)).toBe(1);
    expect(depositOf(topUpId)).toBeDefined();
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
  });

  it('a committed deposit whose reply is lost while the bank stays unreachable past the budget is never refunded; when the bank returns, it completes', async () => {
    // PostgreSQL commits the deposit, the bank loses the reply and then cannot serve anything, GetDeposit included.
    bank.plan = (n) => (n === 0 ? 'apply_then_unavailable' : 'unavailable');
    bank.lookupPlan = () => 'unavailable';
    const result = await t.topUp({});
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata).toMatchObject({ charged: 'true', charge_status: 'charged' });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'CHARGED', refund_attempts: 0 });
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
    expect(depositOf(topUpId)).toBeDefined();

    // While the bank cannot say, recovery keeps waiting (durably, with backoff) and still never refunds.
    await t.adapter.recovery.runPass();
    expect((await journalRow(pool, topUpId)).state).toBe('CHARGED');
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();

    bank.lookupPlan = () => 'ok';
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        return (await journalRow(pool, topUpId)).state === 'COMPLETED';
      },
      { what: 'recovery to find the deposit at the bank' },
    );
    expect(bank.voided.has(`topup-${topUpId}`)).toBe(false);
    expect([...bank.deposits.values()].filter((d) => d.topUpId === topUpId)).toHaveLength(1);
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
  });

  it('a bank that goes away after committing waits durably, not in a tight loop, and completes when it is back', { timeout: 180_000 }, async () => {
    // Its own adapter with long waits, so "not picked up again before its wait" does not depend on timing.
    const patient = await startTestAdapter(
      { DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address, CARD_ADAPTER_RECOVERY_DELAY_MS_MIN: '60000', CARD_ADAPTER_RECOVERY_DELAY_MS_MAX: '120000' },
      // Its own gateway client: an adapter closes its client (connection pool) when it stops.
      { gateway: await gatewayClient(mock.url, 2_000) },
    );
    bank.plan = (n) => (n === 0 ? 'apply_then_hang' : 'ok');
    const callsBefore = bank.depositCalls.length;
    const pending = patient.topUp({});
    await waitFor(() => bank.depositCalls.length > callsBefore, { what: 'the first deposit call' });
    await bank.stop();
    try {
      const result = await pending;
      expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
      const topUpId = result.err!.metadata.top_up_id!;
      const waiting = await pool.query<{ state: string; wait_rounds: number; waiting: boolean }>(
        'SELECT state, wait_rounds, lease_until > now() AS waiting FROM card_adapter.top_ups WHERE id = $1',
        [topUpId],
      );
      expect(waiting.rows[0]).toMatchObject({ state: 'CHARGED', wait_rounds: 1, waiting: true });
      // Not picked up again before its wait is over.
      const lookupsBefore = bank.lookupsFor(`topup-${topUpId}`);
      await patient.adapter.recovery.runPass();
      expect(bank.lookupsFor(`topup-${topUpId}`)).toBe(lookupsBefore);
      expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();

      await bank.restart();
      await waitFor(
        async () => {
          // Time passes: each wait is over (the bank client may still be reconnecting on the first tries).
          await pool.query('UPDATE card_adapter.top_ups SET lease_until = now() WHERE id = $1 AND lease_token IS NULL', [topUpId]);
          await patient.adapter.recovery.runPass();
          return (await journalRow(pool, topUpId)).state === 'COMPLETED';
        },
        // The bank client reconnects with its own backoff after the outage.
        { timeoutMs: 90_000, what: 'recovery to complete once the bank is back' },
      );
      expect([...bank.deposits.values()].filter((d) => d.topUpId === topUpId)).toHaveLength(1);
      expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
    } finally {
      await bank.restart().catch(() => undefined);
      await patient.stop();
      // The shared adapter's health-aware bank channel saw the bank go: until its next probe finds the
      // restarted bank SERVING, its calls fail fast (not sent). The next test must not start in that window.
      await waitFor(() => t.adapter.ctx.bank.ping(2_000).then(() => true, () => false), { timeoutMs: 30_000, what: "the shared adapter's channel to reach the restarted bank" });
    }
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

async function getTopUp(request: { topUpId?: string; accountId?: string; idempotencyKey?: string }) {
  const result = await callGetTopUp(t.client, request);
  return result.ok ? { ok: result.ok.topUp! } : { err: result.err };
}

describe('top-up leftovers', () => {
  it('a refund the gateway refuses ends REFUND_FAILED (charged=true, manual action), counted and shown by GetTopUp, not pending forever', async () => {
    bank.plan = () => 'account_not_found';
    const req = request({}, { number: CARDS.refundDeclined });
    const result = await callTopUp(t.client, req);
    expect(result.err).toMatchObject({ code: Status.ABORTED, reason: 'REFUND_FAILED' });
    expect(result.err?.metadata).toMatchObject({ charged: 'true', manual_action: 'true', deposit_error: 'ACCOUNT_NOT_FOUND' });
    const topUpId = result.err!.metadata.top_up_id!;
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'REFUND_FAILED', refund_attempts: 1, failure_reason: 'REFUND_FAILED' });
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();

    const shown = await getTopUp({ topUpId });
    expect(shown.ok).toMatchObject({ id: topUpId, status: TopUpStatus.TOP_UP_STATUS_REFUND_FAILED, charged: 'true', failureReason: 'REFUND_FAILED' });
    expect((await getTopUp({ accountId: ACCOUNT, idempotencyKey: req.idempotencyKey })).ok?.id).toBe(topUpId);

    // Final: recovery leaves it alone; the metric and the gauge say an operator is needed.
    await t.adapter.recovery.runPass();
    expect((await journalRow(pool, topUpId)).state).toBe('REFUND_FAILED');
    const metrics = await (await fetch(`http://127.0.0.1:${t.adapter.ops.port}/metrics`)).text();
    expect(metrics).toMatch(/card_adapter_refunds_failed_total\{[^}]*code="refund_declined"[^}]*\} [1-9]/);
    expect(metrics).toMatch(/card_adapter_refund_failed_top_ups\{[^}]*\} [1-9]/);
    const replay = await callTopUp(t.client, req);
    expect(replay.err).toMatchObject({ reason: 'REFUND_FAILED', metadata: expect.objectContaining({ replayed: 'true', charged: 'true' }) });
  });

  it('a charge the gateway completes after the top-up was marked failed is found by reconciliation and refunded once', async () => {
    const req = request({}, { number: CARDS.chargeLandsLate });
    const first = await callTopUp(t.client, req);
    expect(first.err).toMatchObject({ reason: 'TOP_UP_PENDING', metadata: expect.objectContaining({ charged: 'unknown' }) });
    const topUpId = first.err!.metadata.top_up_id!;
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        return (await journalRow(pool, topUpId)).state !== 'CHARGING';
      },
      { timeoutMs: 30_000, what: 'the unknown charge to be settled' },
    );
    // The gateway had no charge after the deadline and the grace period: failed, nothing charged (so far).
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'FAILED', failure_reason: 'PAYMENT_GATEWAY_TIMEOUT' });
    expect(await chargesFor(pool, topUpId)).toHaveLength(0);

    await waitFor(async () => (await chargesFor(pool, topUpId)).length === 1, { timeoutMs: 30_000, what: 'the late charge to land' });
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        return (await journalRow(pool, topUpId)).state === 'REFUNDED';
      },
      { timeoutMs: 30_000, what: 'reconciliation to refund the late charge' },
    );
    const charges = await chargesFor(pool, topUpId);
    expect(charges).toHaveLength(1);
    expect(charges[0]?.refund_id).not.toBeNull();
    expect(depositOf(topUpId)).toBeUndefined();
    const replay = await callTopUp(t.client, req);
    expect(replay.err).toMatchObject({ reason: 'DEPOSIT_FAILED_REFUNDED', metadata: expect.objectContaining({ charged: 'false', refunded: 'true' }) });
    expect(replay.err?.message).toMatch(/after the top-up had failed/);
    const metrics = await (await fetch(`http://127.0.0.1:${t.adapter.ops.port}/metrics`)).text();
    expect(metrics).toMatch(/card_adapter_reconciliation_actions_total\{[^}]*action="late_charge_refunded"[^}]*\} [1-9]/);
  });

  it('GetTopUp answers by id or by key, NOT_FOUND for none, INVALID_ARGUMENT for a bad query', async () => {
    const done = await t.topUp({});
    const shown = await getTopUp({ topUpId: done.ok!.topUp!.id });
    expect(shown.ok).toMatchObject({ status: TopUpStatus.TOP_UP_STATUS_COMPLETED, charged: 'true', failureReason: '' });
    expect((await getTopUp({ topUpId: randomUUID() })).err).toMatchObject({ code: Status.NOT_FOUND, reason: 'TOP_UP_NOT_FOUND' });
    expect((await getTopUp({ topUpId: 'nope' })).err).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT' });
    expect((await getTopUp({ accountId: ACCOUNT })).err).toMatchObject({ code: Status.INVALID_ARGUMENT });
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
    expect(second.err?.metadata.charged).toBe('unknown');
    expect((await first).ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
  });
});

describe('card data and operations', () => {
  it('never stores or logs a card number or a CVC', async () => {
    const stored = await everythingStored(pool);
    const logs = t.lines.join('\n');
    expect(stored.length).toBeGreaterThan(0);
    expect(logs.length).toBeGreaterThan(0);
    for (const number of ALL_CARD_NUMBERS) {
      expect(stored).not.toContain(number);
      expect(logs).not.toContain(number);
    }
    // No field named cvc anywhere (the reason INVALID_CVC may appear, the value may not).
    expect(logs).not.toMatch(/"cvc"\s*:/i);
    expect(stored).not.toMatch(/"cvc"\s*:|\bcvc\b/i);
  });

  it('serves /healthz, /readyz (the journal decides; bank, gateway and breakers in the detail) and /metrics with top-up outcomes', async () => {
    const base = `http://127.0.0.1:${t.adapter.ops.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ok',
      checks: { database: 'ok' },
      detail: { dependencies: { bank: 'ok', paymentGateway: 'ok' }, breakers: { bank: 'closed', payment_gateway: 'closed' } },
    });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/card_adapter_top_ups_total\{[^}]*outcome="completed"/);
    expect(metrics).toMatch(/card_adapter_top_ups_total\{[^}]*outcome="declined"/);
    expect(metrics).toMatch(/card_adapter_recovery_actions_total\{[^}]*action="failed"/);
    expect(metrics).toContain('card_adapter_unfinished_top_ups');
  });
});
