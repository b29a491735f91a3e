// Who may top up and see top-ups: the caller's bearer token verified by the
// adapter itself (the test issuer's discovery + JWKS), roles, the bank's
// ownership rule asked before any charge, the initiator recorded and passed on,
// and the adapter's own identity (its certificate) at the bank. Real PostgreSQL, the payment gateway
// mock process (counted through a wrapper), a fake bank that applies the rules.
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ADMIN, ALICE, BOB, bearer, closeTestIssuer, SUPPORT, testIssuer } from '../support/auth.js';
import { ControllableGateway } from '../support/controllable-gateway.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { ACCOUNT, callTopUp, journalByKey, journalRow, request, startTestAdapter, type TestAdapter } from '../support/harness.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';

const BOBS_ACCOUNT = '987e6543-e21b-34d3-c456-426614174999';

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let gateway: ControllableGateway;
let mock: MockGatewayProcess;
let t: TestAdapter;

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_authz');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  bank = await new FakeBank().start();
  bank.owners.set(BOBS_ACCOUNT, BOB);
  mock = await MockGatewayProcess.start(db.url);
  gateway = new ControllableGateway(await gatewayClient(mock.url, 2_000));
  t = await startTestAdapter({ DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address }, { gateway });
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
  bank.balancePlan = () => 'ok';
  bank.callers.depositMoney = ['bank-card-adapter'];
  bank.callers.getDeposit = ['bank-card-adapter'];
  gateway.reset();
});

/** Runs the call and proves it changed nothing: no charge sent, nothing journaled, no deposit. */
async function expectNothingCharged(run: () => Promise<{ err?: { metadata: Record<string, string> } | undefined }>): Promise<void> {
  const chargesBefore = gateway.chargeCalls;
  const depositsBefore = bank.depositCalls.length;
  const { rows: before } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM card_adapter.top_ups');
  const result = await run();
  expect(result.err?.metadata.charged).toBe('false');
  expect(gateway.chargeCalls).toBe(chargesBefore);
  expect(bank.depositCalls.length).toBe(depositsBefore);
  const { rows: after } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM card_adapter.top_ups');
  expect(after[0]?.n).toBe(before[0]?.n);
}

describe('ProcessCardTopUp: the caller', () => {
  it.each([
    ['no authorization metadata', null],
    ['a value that is not a bearer token', 'Basic YWxpY2U6cHc='],
    ['a garbage token', 'Bearer abc.def.ghi'],
  ])('refuses %s with UNAUTHENTICATED / CALLER_UNAUTHENTICATED, nothing charged', async (_name, authorization) => {
    await expectNothingCharged(async () => {
      const result = await t.topUp({}, authorization);
      expect(result.err).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'CALLER_UNAUTHENTICATED', domain: 'card-adapter.wallet' });
      return result;
    });
  });

  it('refuses expired tokens and tokens for another audience or issuer', async () => {
    const issuer = await testIssuer();
    for (const claims of [{ expiresInSeconds: -120 }, { audience: 'another-api' }, { issuer: 'http://127.0.0.1:1/other' }]) {
      const token = await issuer.sign({ sub: ALICE, ...claims });
      await expectNothingCharged(async () => {
        const result = await t.topUp({}, `Bearer ${token}`);
        expect(result.err, JSON.stringify(claims)).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'CALLER_UNAUTHENTICATED' });
        return result;
      });
    }
  });

  it('refuses support with PERMISSION_DENIED / ROLE_FORBIDDEN before anything, not even the bank is asked', async () => {
    const seenBefore = bank.seen.length;
    await expectNothingCharged(async () => {
      const result = await t.topUp({}, await bearer(SUPPORT, ['support']));
      expect(result.err).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
      return result;
    });
    expect(bank.seen.length).toBe(seenBefore);
  });

  it("another user's account answers ACCOUNT_NOT_FOUND, exactly like an unknown one, and NOTHING is charged", async () => {
    await expectNothingCharged(async () => {
      const result = await t.topUp({ accountId: BOBS_ACCOUNT }, await bearer(ALICE));
      expect(result.err).toMatchObject({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND', domain: 'card-adapter.wallet' });
      return result;
    });
  });

  it('the bank refusing the role or the token is ROLE_FORBIDDEN / CALLER_UNAUTHENTICATED, nothing charged', async () => {
    bank.balancePlan = () => 'forbidden';
    await expectNothingCharged(async () => {
      const result = await t.topUp({});
      expect(result.err).toMatchObject({ code: Status.PERMISSION_DENIED, reason: 'ROLE_FORBIDDEN' });
      return result;
    });
    bank.balancePlan = () => 'unauthenticated';
    await expectNothingCharged(async () => {
      const result = await t.topUp({});
      expect(result.err).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'CALLER_UNAUTHENTICATED' });
      return result;
    });
  });

  it('a bank that cannot answer the account check means nothing charged and a retryable UNAVAILABLE; the same key then succeeds', async () => {
    bank.balancePlan = () => 'unavailable';
    const req = request();
    await expectNothingCharged(async () => {
      const result = await callTopUp(t.client, req);
      expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, domain: 'card-adapter.wallet' });
      expect(result.err?.metadata.unavailable).toBe('bank');
      return result;
    });
    bank.balancePlan = () => 'ok';
    expect((await callTopUp(t.client, req)).ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
  });

  it('an admin may top up any account; the admin is the initiator', async () => {
    const result = await t.topUp({ accountId: BOBS_ACCOUNT }, await bearer(ADMIN, ['admin']));
    expect(result.ok?.topUp).toMatchObject({ status: TopUpStatus.TOP_UP_STATUS_COMPLETED, initiatedBy: ADMIN });
    expect(bank.deposits.get(`topup-${result.ok!.topUp!.id}`)?.initiatedBy).toBe(ADMIN);
  });
});

describe('initiator and service identity', () => {
  it('records initiated_by in the journal, passes it to the bank, returns it; the bearer goes only to GetBalance; every bank call is made as bank-card-adapter (certificate)', async () => {
    const seenBefore = bank.seen.length;
    const authorization = await bearer(ALICE);
    const result = await t.topUp({}, authorization);
    const topUp = result.ok!.topUp!;
    expect(topUp.initiatedBy).toBe(ALICE);
    expect(await journalRow(pool, topUp.id)).toMatchObject({ state: 'COMPLETED', initiated_by: ALICE });
    expect(bank.deposits.get(`topup-${topUp.id}`)).toMatchObject({ initiatedBy: ALICE, accountId: ACCOUNT });
    const calls = bank.seen.slice(seenBefore);
    expect(calls).toEqual([
      { rpc: 'GetBalance', authorization, caller: 'bank-card-adapter' },
      { rpc: 'DepositMoney', authorization: undefined, caller: 'bank-card-adapter' },
    ]);
    // Secrets never reach a log line: not the user's token.
    const logs = t.lines.join('\n');
    expect(logs).not.toContain(authorization.slice('Bearer '.length));
  });

  it('a bank that refuses the adapter as a caller (PERMISSION_DENIED CALLER_NOT_ALLOWED): no retries in vain, no refund on a guess; the top-up waits charged, and completes once the bank admits it again', async () => {
    bank.callers.depositMoney = [];
    bank.callers.getDeposit = [];
    const seenBefore = bank.seen.length;
    const deniedBefore = bank.denied.length;
    const result = await t.topUp({});
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata.charged).toBe('true');
    const topUpId = result.err!.metadata.top_up_id!;
    const reference = `topup-${topUpId}`;
    // One DepositMoney (refused, nothing applied), then GetDeposit decides: refused too, so it waits.
    expect(bank.seen.slice(seenBefore).map((call) => call.rpc)).toEqual(['GetBalance']);
    expect(bank.denied.slice(deniedBefore)).toEqual([
      { rpc: 'depositMoney', caller: 'bank-card-adapter', reason: 'CALLER_NOT_ALLOWED' },
      { rpc: 'getDeposit', caller: 'bank-card-adapter', reason: 'CALLER_NOT_ALLOWED' },
    ]);
    expect(bank.deposits.has(reference)).toBe(false);
    expect(bank.voided.has(reference)).toBe(false);
    expect(gateway.refundCalls).toBe(0);
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'CHARGED', refund_id: null });
    expect(t.lines.join('\n')).toContain("is not in the bank's caller table");

    bank.callers.depositMoney = ['bank-card-adapter'];
    bank.callers.getDeposit = ['bank-card-adapter'];
    await pool.query('UPDATE card_adapter.top_ups SET lease_until = now() WHERE id = $1', [topUpId]);
    await t.adapter.recovery.runPass();
    expect(await journalRow(pool, topUpId)).toMatchObject({ state: 'COMPLETED', refund_id: null, initiated_by: ALICE });
    expect(bank.deposits.get(reference)?.initiatedBy).toBe(ALICE);
    expect(gateway.refundCalls).toBe(0);
  });
});

describe('replays of an idempotency key', () => {
  it('answers the initiator (replayed) and admin, but another user learns nothing: ACCOUNT_NOT_FOUND, even with a different request', async () => {
    const req = request();
    const first = await callTopUp(t.client, req);
    const topUpId = first.ok!.topUp!.id;
    const chargesBefore = gateway.chargeCalls;

    expect((await callTopUp(t.client, req)).ok).toMatchObject({ replayed: true, topUp: { id: topUpId, initiatedBy: ALICE } });
    expect((await callTopUp(t.client, req, 30_000, await bearer(ADMIN, ['admin']))).ok?.topUp?.id).toBe(topUpId);

    const asBob = await bearer(BOB);
    for (const attempt of [req, { ...req, amount: { amountMinor: 9_999n, currencyCode: 'USD' } }]) {
      const other = await callTopUp(t.client, attempt, 30_000, asBob);
      expect(other.err).toMatchObject({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND' });
      expect(other.err?.metadata.top_up_id).toBeUndefined();
      expect(JSON.stringify(other.err)).not.toContain(topUpId);
    }
    expect(gateway.chargeCalls).toBe(chargesBefore);
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(1);
  });
});

describe('GetTopUp', () => {
  it('shows a top-up to its initiator, support and admin; anyone else gets TOP_UP_NOT_FOUND; no token is UNAUTHENTICATED', async () => {
    const req = request();
    const topUpId = (await callTopUp(t.client, req)).ok!.topUp!.id;
    const byKey = { accountId: ACCOUNT, idempotencyKey: req.idempotencyKey };
    for (const authorization of [await bearer(ALICE), await bearer(SUPPORT, ['support']), await bearer(ADMIN, ['admin'])]) {
      expect((await t.getTopUp({ topUpId }, authorization)).ok?.topUp).toMatchObject({ id: topUpId, initiatedBy: ALICE });
      expect((await t.getTopUp(byKey, authorization)).ok?.topUp?.id).toBe(topUpId);
    }
    const asBob = await bearer(BOB);
    expect((await t.getTopUp({ topUpId }, asBob)).err).toMatchObject({ code: Status.NOT_FOUND, reason: 'TOP_UP_NOT_FOUND' });
    expect((await t.getTopUp(byKey, asBob)).err).toMatchObject({ code: Status.NOT_FOUND, reason: 'TOP_UP_NOT_FOUND' });
    expect((await t.getTopUp({ topUpId }, null)).err).toMatchObject({ code: Status.UNAUTHENTICATED, reason: 'CALLER_UNAUTHENTICATED' });
  });

  it('a top-up journaled before identity existed (no initiator) is shown to support and admin only', async () => {
    const req = request();
    const topUpId = (await callTopUp(t.client, req)).ok!.topUp!.id;
    await pool.query('UPDATE card_adapter.top_ups SET initiated_by = NULL WHERE id = $1', [topUpId]);
    expect((await t.getTopUp({ topUpId })).err).toMatchObject({ code: Status.NOT_FOUND, reason: 'TOP_UP_NOT_FOUND' });
    expect((await t.getTopUp({ topUpId }, await bearer(SUPPORT, ['support']))).ok?.topUp).toMatchObject({ id: topUpId, initiatedBy: '' });
    expect((await journalByKey(pool, req.idempotencyKey))?.initiated_by).toBeNull();
  });
});

describe('an unreachable token issuer', () => {
  it("is UNAVAILABLE (not the caller's fault), nothing charged", async () => {
    const cutGateway = new ControllableGateway(await gatewayClient(mock.url, 2_000));
    const cut = await startTestAdapter(
      { DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address, AUTH_ISSUER: 'http://127.0.0.1:1', CARD_ADAPTER_MIGRATE_ON_START: 'false' },
      { gateway: cutGateway },
    );
    try {
      const idempotencyKey = randomUUID();
      const result = await cut.topUp({ idempotencyKey });
      expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, domain: 'card-adapter.wallet' });
      expect(result.err?.metadata).toMatchObject({ charged: 'false', unavailable: 'token_issuer' });
      expect(cutGateway.chargeCalls).toBe(0);
      expect(await journalByKey(pool, idempotencyKey)).toBeUndefined();
      expect((await cut.getTopUp({ topUpId: randomUUID() })).err).toMatchObject({ code: Status.UNAVAILABLE });
    } finally {
      await cut.stop();
    }
  });
});
