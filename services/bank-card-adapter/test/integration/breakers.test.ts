// The adapter's circuit breakers in the saga (issue #13): with the payment
// gateway down a new top-up is refused before anything is charged or stored;
// with the bank's breaker open after a charge the deposit is certainly not
// sent, the top-up waits (never refunded on it) and completes once the bank
// answers again. The real payment-gateway-mock process, the fake bank.
import { status as Status } from '@grpc/grpc-js';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeTestIssuer } from '../support/auth.js';
import { PaymentGatewayError } from '../../src/clients/payment-gateway/types.js';
import { ControllableGateway } from '../support/controllable-gateway.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { chargesFor, journalByKey, journalRow, startTestAdapter, type TestAdapter } from '../support/harness.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let mock: MockGatewayProcess;
let gateway: ControllableGateway;
let t: TestAdapter | undefined;

/** Breakers that open on the second infrastructure failure (> 50 % of at least 2 calls) and probe after 3 s. */
const BREAKER_ENV = {
  CARD_ADAPTER_BREAKER_CALLS_MIN: '2',
  CARD_ADAPTER_BREAKER_FAILURES_PERCENT_MAX: '50',
  CARD_ADAPTER_BREAKER_RESET_TIMEOUT_MS: '3000',
  CARD_ADAPTER_BREAKER_WINDOW_MS: '30000',
};

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_breakers');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  bank = await new FakeBank().start();
  mock = await MockGatewayProcess.start(db.url);
});

afterEach(async () => {
  await t?.stop();
  t = undefined;
  bank.plan = () => 'ok';
  bank.balancePlan = () => 'ok';
});

afterAll(async () => {
  await bank?.stop();
  await mock?.stop();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

async function startAdapter(): Promise<TestAdapter> {
  // A new client per adapter: stopping an adapter closes its gateway client.
  gateway = new ControllableGateway(await gatewayClient(mock.url, 2_000));
  t = await startTestAdapter({ DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address, CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url, ...BREAKER_ENV }, { gateway });
  return t;
}

async function metric(adapter: TestAdapter, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adapter.adapter.ops.port}/metrics`)).text();
  const match = pattern.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/** Lets the recovery loop take the top-up now (its durable wait is over) and runs one pass. */
async function recoverNow(adapter: TestAdapter, topUpId: string): Promise<void> {
  await pool.query('UPDATE card_adapter.top_ups SET lease_until = now() WHERE id = $1 AND lease_until > now()', [topUpId]);
  await adapter.adapter.recovery.runPass();
}

describe('payment_gateway breaker', () => {
  it('with the gateway down, a top-up fails fast before any charge: UNAVAILABLE PAYMENT_GATEWAY_ERROR, nothing sent, charged or journaled; the same key completes once the gateway is back', async () => {
    const a = await startAdapter();
    const firstKey = randomUUID();
    const idempotencyKey = randomUUID();
    await mock.kill();
    // Refused before the request leaves (as a refused connection is), whatever a loaded machine makes of the dead port.
    gateway.chargeFault = new PaymentGatewayError('not_processed', 'unreachable', 'connection refused (test)');
    try {
      // The outage as the saga meets it: both charge attempts refused (connection refused), journaled FAILED, nothing charged.
      const first = await a.topUp({ idempotencyKey: firstKey });
      expect(first.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'PAYMENT_GATEWAY_ERROR' });
      expect(first.err?.metadata.charged).toBe('false');
      expect(a.adapter.breakers.states().payment_gateway).toBe('open');

      const chargesBefore = gateway.chargeCalls;
      const balanceChecksBefore = bank.seen.filter((c) => c.rpc === 'GetBalance').length;
      const refused = await a.topUp({ idempotencyKey });
      expect(refused.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'PAYMENT_GATEWAY_ERROR' });
      expect(refused.err?.metadata).toMatchObject({ charged: 'false', unavailable: 'payment_gateway' });
      expect(Number(refused.err?.metadata.retry_after_seconds)).toBeGreaterThanOrEqual(1);
      // Refused before anything: no charge sent, no account check, no journal row (the key stays free for the retry).
      expect(gateway.chargeCalls).toBe(chargesBefore);
      expect(bank.seen.filter((c) => c.rpc === 'GetBalance').length).toBe(balanceChecksBefore);
      expect(await journalByKey(pool, idempotencyKey)).toBeUndefined();
      // A replay of a known key is still answered from the journal, whatever the gateway's state.
      const replay = await a.topUp({ idempotencyKey: firstKey });
      expect(replay.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'PAYMENT_GATEWAY_ERROR' });
      expect(replay.err?.metadata).toMatchObject({ replayed: 'true', top_up_id: first.err!.metadata.top_up_id });

      const readyz = await fetch(`http://127.0.0.1:${a.adapter.ops.port}/readyz`);
      expect(readyz.status).toBe(200);
      expect(((await readyz.json()) as { detail: { breakers: Record<string, string> } }).detail.breakers).toEqual({ bank: 'closed', payment_gateway: 'open' });
      expect(await metric(a, /circuit_breaker_state\{[^}]*breaker="payment_gateway"[^}]*\} (\d+)/)).toBe(2);
      expect(await metric(a, /card_adapter_top_ups_total\{[^}]*outcome="unavailable"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(1);
    } finally {
      gateway.reset();
      await mock.restart();
    }

    await waitFor(() => a.adapter.breakers.states().payment_gateway !== 'open', { timeoutMs: 10_000, what: 'the breaker to let a probe through' });
    const retried = await a.topUp({ idempotencyKey });
    expect(retried.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    expect(await chargesFor(pool, retried.ok!.topUp!.id)).toHaveLength(1);
    expect(a.adapter.breakers.states().payment_gateway).toBe('closed');
  });
});

describe('bank breaker', () => {
  it('opened while the card is being charged: the deposit is not sent, the top-up waits charged (never refunded) and completes once when the bank answers again', async () => {
    const a = await startAdapter();
    let release!: () => void;
    gateway.chargeGate = new Promise<void>((resolve) => (release = resolve));
    const pending = a.topUp({});
    await waitFor(() => gateway.chargeCalls > 0, { timeoutMs: 10_000, what: 'the charge to start' });
    // The bank goes down meanwhile: other users' account checks fail and open the breaker (nothing charged for them).
    bank.balancePlan = () => 'unavailable';
    for (let i = 0; i < 2; i += 1) expect((await a.topUp({})).err?.metadata).toMatchObject({ charged: 'false', unavailable: 'bank' });
    expect(a.adapter.breakers.states().bank).toBe('open');
    release();

    const result = await pending;
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata.charged).toBe('true');
    const topUpId = result.err!.metadata.top_up_id!;
    const reference = `topup-${topUpId}`;
    // Certainly not sent: no DepositMoney, no GetDeposit reached the bank; the outcome is not "unknown".
    expect(bank.callsFor(reference)).toBe(0);
    expect(bank.lookupsFor(reference)).toBe(0);
    const { rows } = await pool.query<{ state: string; deposit_outcome_unknown: boolean }>('SELECT state, deposit_outcome_unknown FROM card_adapter.top_ups WHERE id = $1', [topUpId]);
    expect(rows[0]).toEqual({ state: 'CHARGED', deposit_outcome_unknown: false });
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();

    bank.balancePlan = () => 'ok';
    await waitFor(() => a.adapter.breakers.states().bank !== 'open', { timeoutMs: 10_000, what: 'the bank breaker to let a probe through' });
    await recoverNow(a, topUpId);
    expect((await journalRow(pool, topUpId)).state).toBe('COMPLETED');
    expect(bank.callsFor(reference)).toBe(1);
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
  });

  it('opened by the deposit attempts themselves after a reply was lost: the ambiguity rules hold (no refund, no second credit), completed once the bank is back', async () => {
    const a = await startAdapter();
    // Attempt 1 applies and loses its reply; attempt 2 fails; the breaker opens; attempt 3 and the lookup are refused unsent.
    bank.plan = (callIndex) => (callIndex === 0 ? 'apply_then_unavailable' : 'unavailable');
    const result = await a.topUp({});
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata.charged).toBe('true');
    const topUpId = result.err!.metadata.top_up_id!;
    const reference = `topup-${topUpId}`;
    expect(a.adapter.breakers.states().bank).toBe('open');
    expect(bank.callsFor(reference)).toBe(2);
    expect(bank.lookupsFor(reference)).toBe(0);
    const { rows } = await pool.query<{ state: string; deposit_outcome_unknown: boolean }>('SELECT state, deposit_outcome_unknown FROM card_adapter.top_ups WHERE id = $1', [topUpId]);
    expect(rows[0]).toEqual({ state: 'CHARGED', deposit_outcome_unknown: true });
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();

    bank.plan = () => 'ok';
    await waitFor(() => a.adapter.breakers.states().bank !== 'open', { timeoutMs: 10_000, what: 'the bank breaker to let a probe through' });
    await recoverNow(a, topUpId);
    expect((await journalRow(pool, topUpId)).state).toBe('COMPLETED');
    // One deposit (the first attempt's), credited once; the charge stays.
    expect(bank.deposits.get(reference)).toMatchObject({ topUpId, amountMinor: 2_500n });
    expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
  });
});
