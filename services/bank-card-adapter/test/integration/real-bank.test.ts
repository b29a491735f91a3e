// Against the real bank-service process (its dist/main.js), sharing one
// PostgreSQL database as in production: schema bank for the ledger, schema
// card_adapter for the journal. Skipped when bank-service is not built.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { status as Status } from '@grpc/grpc-js';
import { BankServiceClient } from '@wallet/contracts/bank';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { callUnary, createGrpcClient } from '@wallet/platform';
import { createTestDatabase, freePort, startService, waitFor, waitForHttpOk, type ServiceProcess, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, BOB, bearer, closeTestIssuer, testIssuer } from '../support/auth.js';
import { testClientTransport, testTlsEnv } from '../../../../test/support/pki.js';
import { GrpcBank } from '../../src/clients/bank.js';
import { dropTestDatabase } from '../support/db.js';
import { ACCOUNT, chargesFor, startTestAdapter, type TestAdapter } from '../support/harness.js';
import { ControllableGateway } from '../support/controllable-gateway.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';

const BANK_MAIN = fileURLToPath(new URL('../../../bank-service/dist/main.js', import.meta.url));

describe.skipIf(!existsSync(BANK_MAIN))('top-ups against the real bank-service', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let bankProcess: ServiceProcess;
  let bankClient: BankServiceClient;
  let bankAddress: string;
  let bankOpsPort: number;
  let t: TestAdapter;
  let mock: MockGatewayProcess;
  let gateway: ControllableGateway;

  async function startBank(): Promise<ServiceProcess> {
    const { issuer, audience } = await testIssuer();
    const child = startService('bank-service', BANK_MAIN, {
      DATABASE_URL: db.url,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: audience,
      ...(await testTlsEnv('bank-service')),
      BANK_GRPC_PORT: bankAddress.split(':')[1]!,
      BANK_OPS_PORT: String(bankOpsPort),
    });
    await waitForHttpOk(`http://127.0.0.1:${bankOpsPort}/healthz`, 60_000);
    return child;
  }

  async function balanceMinor(accountId: string): Promise<bigint> {
    const headers = { authorization: await bearer(ALICE) };
    const response = await callUnary(bankClient, bankClient.getBalance, { accountId }, { timeoutMs: 5_000, headers });
    return response.balance!.amountMinor;
  }

  async function depositsFor(topUpId: string): Promise<number> {
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM bank.deposits WHERE top_up_id = $1', [topUpId]);
    return Number(rows[0]?.n);
  }

  beforeAll(async () => {
    db = await createTestDatabase('card_adapter_real_bank');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    bankAddress = `127.0.0.1:${await freePort()}`;
    bankOpsPort = await freePort();
    bankProcess = await startBank();
    // Balances are read as the gateway would (GetBalance admits it).
    bankClient = createGrpcClient(BankServiceClient, bankAddress, await testClientTransport('bank-service', 'api-gateway'));
    mock = await MockGatewayProcess.start(db.url);
    gateway = new ControllableGateway(await gatewayClient(mock.url, 5_000));
    t = await startTestAdapter(
      {
        DATABASE_URL: db.url,
        CARD_ADAPTER_BANK_GRPC_ADDRESS: bankAddress,
        // A dead bank refuses connections at once, so a long deadline costs nothing here; a short one
        // can expire on the first call to a bank just restarted on a loaded machine, and a top-up that
        // already waited then asks GetDeposit(void_if_absent), which voids and refunds: correct, but
        // not the "completes once the bank is back" path these tests pin.
        CARD_ADAPTER_BANK_TIMEOUT_MS: '10000',
        CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url,
      },
      { gateway },
    );
  });

  afterAll(async () => {
    await t?.stop();
    bankClient?.close();
    await bankProcess?.stop();
    await mock?.stop();
    await pool?.end();
    await dropTestDatabase(db);
    await closeTestIssuer();
  });

  it('credits the account once, double-entry, and a replay credits nothing more', async () => {
    const before = await balanceMinor(ACCOUNT);
    const result = await t.topUp({ idempotencyKey: 'real-bank-1' });
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    const topUpId = result.ok!.topUp!.id;
    expect(await balanceMinor(ACCOUNT)).toBe(before + 2_500n);
    expect(await depositsFor(topUpId)).toBe(1);

    const replay = await t.topUp({ idempotencyKey: 'real-bank-1' });
    expect(replay.ok?.replayed).toBe(true);
    expect(await balanceMinor(ACCOUNT)).toBe(before + 2_500n);
    expect(await chargesFor(pool, topUpId)).toHaveLength(1);

    // Money is conserved: every ledger entry sums to zero with the settlement account.
    const { rows } = await pool.query<{ total: string }>('SELECT coalesce(sum(amount_minor), 0) AS total FROM bank.ledger_entries');
    expect(BigInt(rows[0]!.total)).toBe(0n);
  });

  it('the bank records the initiator with the deposit; GetTopUp shows it', async () => {
    const result = await t.topUp({});
    const topUpId = result.ok!.topUp!.id;
    expect(result.ok!.topUp!.initiatedBy).toBe(ALICE);
    const { rows } = await pool.query<{ initiated_by: string }>('SELECT initiated_by FROM bank.deposits WHERE top_up_id = $1', [topUpId]);
    expect(rows).toEqual([{ initiated_by: ALICE }]);
  });

  it("another user's account is NOT_FOUND from the real bank's ownership rule: nothing charged, nothing journaled", async () => {
    const before = await balanceMinor(ACCOUNT);
    const idempotencyKey = randomUUID();
    const result = await t.topUp({ idempotencyKey }, await bearer(BOB));
    expect(result.err).toMatchObject({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND' });
    expect(result.err?.metadata.charged).toBe('false');
    const { rows } = await pool.query('SELECT 1 FROM card_adapter.top_ups WHERE idempotency_key = $1', [idempotencyKey]);
    expect(rows).toHaveLength(0);
    expect(await balanceMinor(ACCOUNT)).toBe(before);
  });

  it('another service\'s certificate (api-gateway) makes the real bank refuse DepositMoney and GetDeposit (PERMISSION_DENIED CALLER_NOT_ALLOWED)', async () => {
    const impostor = new GrpcBank(bankAddress, 2_000, await testClientTransport('bank-service', 'api-gateway'));
    try {
      const reference = `topup-${randomUUID()}`;
      const deposit = { accountId: ACCOUNT, amountMinor: 100n, currency: 'USD', depositReference: reference, topUpId: randomUUID(), cardLast4: '4242', cardBrand: 'visa', initiatedBy: ALICE };
      expect(await impostor.deposit(deposit).catch((error: unknown) => error)).toMatchObject({ code: 'PERMISSION_DENIED', reason: 'CALLER_NOT_ALLOWED' });
      expect(await impostor.lookUpDeposit(reference, true).catch((error: unknown) => error)).toMatchObject({ code: 'PERMISSION_DENIED', reason: 'CALLER_NOT_ALLOWED' });
      // Nothing applied and nothing voided: the real adapter can still deposit with that reference.
      expect(await t.adapter.ctx.bank.lookUpDeposit(reference, false)).toEqual({ status: 'not_found' });
    } finally {
      impostor.close();
    }
  });

  it('a declined card credits nothing', async () => {
    const before = await balanceMinor(ACCOUNT);
    const result = await t.topUp({ card: { number: '4000000000000002' } });
    expect(result.err).toMatchObject({ code: Status.FAILED_PRECONDITION, reason: 'CARD_DECLINED' });
    expect(await balanceMinor(ACCOUNT)).toBe(before);
  });

  it('an unknown account is NOT_FOUND from the real bank, before any charge', async () => {
    const result = await t.topUp({ accountId: '00000000-0000-4000-8000-00000000dead' });
    expect(result.err).toMatchObject({ code: Status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND' });
    expect(result.err?.metadata.charged).toBe('false');
  });

  it('with the bank down before the top-up, nothing is charged (UNAVAILABLE, retry with the same key)', async () => {
    await bankProcess.kill();
    try {
      const chargesBefore = gateway.chargeCalls;
      const result = await t.topUp({});
      expect(result.err).toMatchObject({ code: Status.UNAVAILABLE });
      expect(result.err?.metadata).toMatchObject({ charged: 'false', unavailable: 'bank' });
      expect(gateway.chargeCalls).toBe(chargesBefore);
    } finally {
      bankProcess = await startBank();
      await t.adapter.ctx.bank.ping(30_000);
    }
  });

  it('with the bank gone after the charge, the charge is never refunded blindly: the top-up waits and completes once the bank is back, credited once', async () => {
    const before = await balanceMinor(ACCOUNT);
    // The account check passes; the bank dies while the card is being charged.
    let release!: () => void;
    gateway.chargeGate = new Promise<void>((resolve) => (release = resolve));
    const chargesBefore = gateway.chargeCalls;
    const pending = t.topUp({});
    try {
      await waitFor(() => gateway.chargeCalls > chargesBefore, { timeoutMs: 30_000, what: 'the charge to start' });
      await bankProcess.kill();
      release();
      const result = await pending;
      expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
      expect(result.err?.metadata.charged).toBe('true');
      const topUpId = result.err!.metadata.top_up_id!;
      expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
      bankProcess = await startBank();
      await t.adapter.ctx.bank.ping(30_000);
      const settled = await waitFor(
        async () => {
          await pool.query('UPDATE card_adapter.top_ups SET lease_until = now() WHERE id = $1 AND lease_until > now()', [topUpId]);
          await t.adapter.recovery.runPass();
          const { rows } = await pool.query<{ state: string; deposit_error: string | null }>('SELECT state, deposit_error FROM card_adapter.top_ups WHERE id = $1', [topUpId]);
          // Any state past the deposit ends the wait, so a wrong outcome fails here with its cause.
          return rows[0] && ['COMPLETED', 'REFUNDING', 'REFUNDED', 'REFUND_FAILED'].includes(rows[0].state) ? rows[0] : undefined;
        },
        { timeoutMs: 30_000, what: 'recovery to settle the top-up once the bank is back' },
      );
      expect(settled).toEqual({ state: 'COMPLETED', deposit_error: null });
      expect(await depositsFor(topUpId)).toBe(1);
      expect(await balanceMinor(ACCOUNT)).toBe(before + 2_500n);
      expect((await chargesFor(pool, topUpId))[0]?.refund_id).toBeNull();
    } finally {
      release();
      gateway.reset();
      if (bankProcess.child.exitCode !== null || bankProcess.child.signalCode !== null) bankProcess = await startBank();
      await t.adapter.ctx.bank.ping(30_000);
    }
  });

  it('degradation: with the payment gateway down, top-ups fail fast before any charge (breaker open: nothing sent, nothing journaled) while transfers at the bank go on', async () => {
    const recipient = '987e6543-e21b-34d3-c456-426614174999';
    const watched = new ControllableGateway(await gatewayClient(mock.url, 5_000));
    // Its own adapter, with a breaker that opens on the second failure and stays open through the test.
    const degraded = await startTestAdapter(
      {
        DATABASE_URL: db.url,
        CARD_ADAPTER_BANK_GRPC_ADDRESS: bankAddress,
        CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url,
        CARD_ADAPTER_BREAKER_CALLS_MIN: '2',
        CARD_ADAPTER_BREAKER_RESET_TIMEOUT_MS: '600000',
      },
      { gateway: watched },
    );
    await mock.kill();
    try {
      const before = await balanceMinor(ACCOUNT);
      const first = await degraded.topUp({});
      expect(first.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'PAYMENT_GATEWAY_ERROR' });
      expect(first.err?.metadata.charged).toBe('false');
      expect(degraded.adapter.breakers.states()).toEqual({ bank: 'closed', payment_gateway: 'open' });

      const chargesBefore = watched.chargeCalls;
      for (let i = 0; i < 3; i += 1) {
        const idempotencyKey = randomUUID();
        const refused = await degraded.topUp({ idempotencyKey });
        expect(refused.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'PAYMENT_GATEWAY_ERROR' });
        expect(refused.err?.metadata).toMatchObject({ charged: 'false', unavailable: 'payment_gateway' });
        const { rows } = await pool.query('SELECT 1 FROM card_adapter.top_ups WHERE idempotency_key = $1', [idempotencyKey]);
        expect(rows).toHaveLength(0);
      }
      expect(watched.chargeCalls).toBe(chargesBefore);
      expect(await balanceMinor(ACCOUNT)).toBe(before);

      // Transfers do not involve the card path: the bank moves money as usual.
      const headers = { authorization: await bearer(ALICE) };
      const transfer = await callUnary(
        bankClient,
        bankClient.transferMoney,
        { senderAccountId: ACCOUNT, recipientAccountId: recipient, amount: { amountMinor: 100n, currencyCode: 'USD' }, idempotencyKey: randomUUID(), description: '' },
        { timeoutMs: 10_000, headers },
      );
      expect(transfer.transfer?.id).toBeTruthy();
      expect(await balanceMinor(ACCOUNT)).toBe(before - 100n);
      // The adapter stays ready (its journal is fine), reports the gateway, and its bank breaker is untouched.
      const readyz = await fetch(`http://127.0.0.1:${degraded.adapter.ops.port}/readyz`);
      expect(readyz.status).toBe(200);
      expect(degraded.adapter.breakers.states().bank).toBe('closed');
    } finally {
      await degraded.stop();
      await mock.restart();
    }
  });

  it('GetDeposit on the real bank: an applied reference is APPLIED, an unknown one is voided and then refused by DepositMoney', async () => {
    const done = await t.topUp({});
    const topUpId = done.ok!.topUp!.id;
    const bank = t.adapter.ctx.bank;
    expect(await bank.lookUpDeposit(`topup-${topUpId}`, true)).toMatchObject({ status: 'applied' });
    const reference = `topup-${randomUUID()}`;
    expect(await bank.lookUpDeposit(reference, false)).toEqual({ status: 'not_found' });
    expect(await bank.lookUpDeposit(reference, true)).toEqual({ status: 'voided' });
    const refused = await bank
      .deposit({ accountId: ACCOUNT, amountMinor: 100n, currency: 'USD', depositReference: reference, topUpId: randomUUID(), cardLast4: '4242', cardBrand: 'visa', initiatedBy: ALICE })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'FAILED_PRECONDITION', reason: 'DEPOSIT_REFERENCE_VOIDED' });
  });
});
