// Refunds of top-ups to the card (issue #15, ADR 0018) against the real
// bank-service process and the real payment gateway mock, sharing one
// PostgreSQL database: the wallet is debited first, then the card refunded;
// a refused card refund credits the wallet back; an unknown outcome is looked
// up; a refund left half-way (after the debit) is finished by recovery.
// Money is checked on the bank's ledger and the gateway's refunds, never on
// the adapter's word alone. Skipped when bank-service is not built.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BankServiceClient } from '@wallet/contracts/bank';
import { TopUpRefundStatus, type RefundTopUpRequest, type RefundTopUpResponse } from '@wallet/contracts/card-adapter';
import { callUnary, createGrpcClient, parseGrpcError, type ParsedGrpcError } from '@wallet/platform';
import { createTestDatabase, freePort, startService, waitFor, waitForHttpOk, type ServiceProcess, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CrashPoint } from '../../src/app/saga.js';
import { ADMIN, ALICE, BOB, bearer, closeTestIssuer, SUPPORT, testIssuer } from '../support/auth.js';
import { testClientTransport, testTlsEnv } from '../../../../test/support/pki.js';
import { dropTestDatabase } from '../support/db.js';
import { ACCOUNT, startTestAdapter, type TestAdapter } from '../support/harness.js';
import { ControllableGateway } from '../support/controllable-gateway.js';
import { gatewayClient, MockGatewayProcess } from '../support/payment-gateway-mock.js';

const BANK_MAIN = fileURLToPath(new URL('../../../bank-service/dist/main.js', import.meta.url));

type RefundCall = { ok: RefundTopUpResponse; err?: undefined } | { ok?: undefined; err: ParsedGrpcError };

describe.skipIf(!existsSync(BANK_MAIN))('refunds of top-ups to the card', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let bankProcess: ServiceProcess;
  let bankClient: BankServiceClient;
  let t: TestAdapter;
  let mock: MockGatewayProcess;
  let gateway: ControllableGateway;
  /** Set by a test to make the adapter "crash" (throw) at a point of the saga; the lease then has to expire. */
  let crashAt: CrashPoint | undefined;

  beforeAll(async () => {
    db = await createTestDatabase('card_adapter_refunds');
    pool = new pg.Pool({ connectionString: db.url, max: 2 });
    const bankAddress = `127.0.0.1:${await freePort()}`;
    const bankOpsPort = await freePort();
    const { issuer, audience } = await testIssuer();
    bankProcess = startService('bank-service', BANK_MAIN, {
      DATABASE_URL: db.url,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: audience,
      ...(await testTlsEnv('bank-service')),
      BANK_GRPC_PORT: bankAddress.split(':')[1]!,
      BANK_OPS_PORT: String(bankOpsPort),
    });
    await waitForHttpOk(`http://127.0.0.1:${bankOpsPort}/healthz`, 60_000);
    bankClient = createGrpcClient(BankServiceClient, bankAddress, await testClientTransport('bank-service', 'api-gateway'));
    mock = await MockGatewayProcess.start(db.url);
    gateway = new ControllableGateway(await gatewayClient(mock.url, 1_000));
    t = await startTestAdapter(
      { DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bankAddress, CARD_ADAPTER_BANK_TIMEOUT_MS: '10000', CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url },
      {
        gateway,
        crashHook: (point) => {
          if (point === crashAt) throw new Error(`test crash at ${point}`);
        },
      },
    );
  });

  afterEach(() => {
    crashAt = undefined;
    gateway.reset();
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

  async function balanceMinor(accountId = ACCOUNT): Promise<bigint> {
    const response = await callUnary(bankClient, bankClient.getBalance, { accountId }, { timeoutMs: 5_000, headers: { authorization: await bearer(ALICE) } });
    return response.balance!.amountMinor;
  }

  async function topUp(cardNumber = '4242424242424242', amountMinor = 2_500n): Promise<string> {
    const result = await t.topUp({ idempotencyKey: randomUUID(), amount: { amountMinor, currencyCode: 'USD' }, card: { number: cardNumber } });
    if (!result.ok) throw new Error(`top-up failed: ${result.err.reason}`);
    return result.ok.topUp!.id;
  }

  async function refund(req: Partial<RefundTopUpRequest>, authorization?: string): Promise<RefundCall> {
    const full: RefundTopUpRequest = { topUpId: '', idempotencyKey: randomUUID(), amount: undefined, ...req };
    const headers = { authorization: authorization ?? (await bearer(ALICE)) };
    try {
      return { ok: await callUnary(t.client, t.client.refundTopUp, full, { timeoutMs: 30_000, headers }) };
    } catch (error) {
      return { err: parseGrpcError(error) };
    }
  }

  const usd = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });

  async function gatewayRefunds(topUpId: string): Promise<bigint[]> {
    const { rows } = await pool.query<{ amount_minor: string }>(
      `SELECT r.amount_minor FROM payment_gateway_mock.refunds r JOIN payment_gateway_mock.charges c ON c.id = r.charge_id
        WHERE c.idempotency_key = $1 ORDER BY r.created_at`,
      [`topup-${topUpId}-charge`],
    );
    return rows.map((r) => BigInt(r.amount_minor));
  }

  async function ledgerSum(): Promise<bigint> {
    const { rows } = await pool.query<{ total: string }>('SELECT coalesce(sum(amount_minor), 0)::text AS total FROM bank.ledger_entries');
    return BigInt(rows[0]!.total);
  }

  it('debits the wallet, refunds the card, once per key; the rest refunds with no amount; more is refused with what remains', async () => {
    const topUpId = await topUp();
    const before = await balanceMinor();
    const key = randomUUID();
    const first = await refund({ topUpId, idempotencyKey: key, amount: usd(1_000n) });
    expect(first.ok?.refund).toMatchObject({ topUpId, status: TopUpRefundStatus.TOP_UP_REFUND_STATUS_SUCCEEDED, initiatedBy: ALICE, amount: usd(1_000n) });
    expect(first.ok?.refund?.gatewayRefundId).toMatch(/^re_/);
    expect(await balanceMinor()).toBe(before - 1_000n);
    const again = await refund({ topUpId, idempotencyKey: key, amount: usd(1_000n) });
    expect(again.ok).toMatchObject({ replayed: true, refund: { id: first.ok!.refund!.id } });
    expect((await refund({ topUpId, idempotencyKey: key, amount: usd(5n) })).err?.reason).toBe('IDEMPOTENCY_KEY_REUSED');

    const rest = await refund({ topUpId });
    expect(rest.ok?.refund?.amount).toEqual(usd(1_500n));
    expect(await balanceMinor()).toBe(before - 2_500n);
    expect(await gatewayRefunds(topUpId)).toEqual([1_000n, 1_500n]);
    const more = await refund({ topUpId, amount: usd(1n) });
    expect(more.err).toMatchObject({ reason: 'REFUND_EXCEEDS_DEPOSIT', metadata: expect.objectContaining({ remaining: '0.00' }) });
    expect(await ledgerSum()).toBe(0n);

    const listed = await callUnary(t.client, t.client.getTopUpRefund, { refundId: '', topUpId }, { timeoutMs: 5_000, headers: { authorization: await bearer(ALICE) } });
    expect(listed.refunds.map((r) => r.amount?.amountMinor)).toEqual([1_000n, 1_500n]);
  });

  it('a refused card refund credits the wallet back: status failed (CARD_REFUND_DECLINED), the bank refund cancelled, nothing at the gateway', async () => {
    const topUpId = await topUp('4000000000005126');
    const before = await balanceMinor();
    const result = await refund({ topUpId, amount: usd(700n) });
    expect(result.ok?.refund).toMatchObject({ status: TopUpRefundStatus.TOP_UP_REFUND_STATUS_FAILED, failureReason: 'CARD_REFUND_DECLINED' });
    expect(await balanceMinor()).toBe(before);
    const refundId = result.ok!.refund!.id;
    const { rows } = await pool.query<{ status: string; id: string }>('SELECT status, id FROM bank.refunds WHERE refund_reference = $1', [refundId]);
    // One refund id: the bank's refund, its ledger entries (and its events, built from the same record) carry the adapter's id.
    expect(rows).toEqual([{ status: 'cancelled', id: refundId }]);
    const entries = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM bank.ledger_entries WHERE refund_id = $1', [refundId]);
    expect(entries.rows).toEqual([{ n: '4' }]);
    expect(await gatewayRefunds(topUpId)).toEqual([]);
    expect(await ledgerSum()).toBe(0n);
  });

  it('a card refund whose answer is lost (timeout) is looked up at the gateway by its key: succeeded, refunded once', async () => {
    const topUpId = await topUp('4000000000006280');
    const before = await balanceMinor();
    const result = await refund({ topUpId, amount: usd(900n) });
    expect(result.ok?.refund?.status).toBe(TopUpRefundStatus.TOP_UP_REFUND_STATUS_SUCCEEDED);
    expect(await gatewayRefunds(topUpId)).toEqual([900n]);
    expect(await balanceMinor()).toBe(before - 900n);
  });

  it('a card refund that never answers is never cancelled on a guess: pending, the wallet stays debited, nothing credited back', async () => {
    const topUpId = await topUp('4000000000006272');
    const before = await balanceMinor();
    const result = await refund({ topUpId, amount: usd(300n) });
    expect(result.ok?.refund?.status).toBe(TopUpRefundStatus.TOP_UP_REFUND_STATUS_PENDING);
    expect(await balanceMinor()).toBe(before - 300n);
    const { rows } = await pool.query<{ status: string }>('SELECT status FROM bank.refunds WHERE refund_reference = $1', [result.ok!.refund!.id]);
    expect(rows).toEqual([{ status: 'debited' }]);
  });

  it('a crash between the debit and the card call is finished by recovery: refunded once, debited once', async () => {
    const topUpId = await topUp();
    const before = await balanceMinor();
    crashAt = 'after_refund_debited';
    const result = await refund({ topUpId, amount: usd(400n) });
    expect(result.ok?.refund?.status).toBe(TopUpRefundStatus.TOP_UP_REFUND_STATUS_PENDING);
    expect(await gatewayRefunds(topUpId)).toEqual([]);
    crashAt = undefined;
    const refundId = result.ok!.refund!.id;
    await waitFor(
      async () => {
        await t.adapter.recovery.runPass();
        const { rows } = await pool.query<{ state: string }>('SELECT state FROM card_adapter.top_up_refunds WHERE id = $1', [refundId]);
        return rows[0]?.state === 'SUCCEEDED';
      },
      { timeoutMs: 30_000, what: 'recovery to finish the refund' },
    );
    expect(await gatewayRefunds(topUpId)).toEqual([400n]);
    expect(await balanceMinor()).toBe(before - 400n);
    expect(await ledgerSum()).toBe(0n);
  });

  it('refuses a refund the wallet cannot cover with INSUFFICIENT_FUNDS (nothing debited, nothing refunded), and replays that answer', async () => {
    const topUpId = await topUp();
    const balance = await balanceMinor();
    await pool.query('UPDATE bank.accounts SET pending_out_minor = $2 WHERE id = $1', [ACCOUNT, (balance - 100n).toString()]);
    try {
      const key = randomUUID();
      const result = await refund({ topUpId, idempotencyKey: key, amount: usd(500n) });
      expect(result.err?.reason).toBe('INSUFFICIENT_FUNDS');
      expect((await refund({ topUpId, idempotencyKey: key, amount: usd(500n) })).err).toMatchObject({ reason: 'INSUFFICIENT_FUNDS', metadata: expect.objectContaining({ replayed: 'true' }) });
    } finally {
      await pool.query('UPDATE bank.accounts SET pending_out_minor = 0 WHERE id = $1', [ACCOUNT]);
    }
    expect(await balanceMinor()).toBe(balance);
    expect(await gatewayRefunds(topUpId)).toEqual([]);
  });

  it('only the owner or an admin may refund: support is refused, another customer hears not found, nothing moves', async () => {
    const topUpId = await topUp();
    const before = await balanceMinor();
    expect((await refund({ topUpId, amount: usd(100n) }, await bearer(SUPPORT, ['support']))).err?.reason).toBe('ROLE_FORBIDDEN');
    expect((await refund({ topUpId, amount: usd(100n) }, await bearer(BOB))).err?.reason).toBe('TOP_UP_NOT_FOUND');
    expect((await refund({ topUpId: randomUUID(), amount: usd(100n) })).err?.reason).toBe('TOP_UP_NOT_FOUND');
    expect((await refund({ topUpId: 'nope', amount: usd(100n) })).err?.reason).toBe('INVALID_ARGUMENT');
    expect((await refund({ topUpId, idempotencyKey: 'k\u0000', amount: usd(100n) })).err?.reason).toBe('INVALID_ARGUMENT');
    expect(await balanceMinor()).toBe(before);
    const byAdmin = await refund({ topUpId, amount: usd(100n) }, await bearer(ADMIN, ['admin']));
    expect(byAdmin.ok?.refund).toMatchObject({ status: TopUpRefundStatus.TOP_UP_REFUND_STATUS_SUCCEEDED, initiatedBy: ADMIN });
  });
});
