// DepositMoney on a real PostgreSQL: double entry against the settlement
// account, idempotent by deposit reference even under concurrency.
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations } from '../../src/app/operations.js';
import {
  AccountNotFoundError,
  CurrencyMismatchError,
  IdempotencyKeyReusedError,
  InvalidAmountError,
  InvalidArgumentError,
} from '../../src/domain/errors.js';
import type { DepositMoneyInput } from '../../src/domain/requests.js';
import {
  balanceOf,
  countRows,
  createAccounts,
  createMigratedDatabase,
  HEALTHY_LEDGER,
  ledgerInvariants,
  rejection,
  SETTLEMENT,
  testOperations,
  testPool,
} from '../support/helpers.js';
import { ADMIN, DEPOSITOR } from '../support/callers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
let counter = 0;

function deposit(accountId: string, amountMinor: bigint, extra: Partial<DepositMoneyInput> = {}): DepositMoneyInput {
  counter += 1;
  return {
    accountId,
    amount: { amountMinor, currencyCode: 'USD' },
    depositReference: `topup-${counter}`,
    topUpId: `7a000000-0000-4000-8000-${counter.toString().padStart(12, '0')}`,
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: DEPOSITOR,
    ...extra,
  };
}

beforeAll(async () => {
  db = await createMigratedDatabase('bank_deposits');
  pool = testPool(db.url, { connectionsMax: 20 });
  ops = testOperations(pool);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('DepositMoney', () => {
  it('credits the customer, debits the settlement account and writes entries and a topup event', async () => {
    const [account] = await createAccounts(pool, 1, 0n);
    const settlementBefore = await balanceOf(pool, SETTLEMENT);
    const request = deposit(account!, 2_500n);
    const result = await ops.depositMoney(request);
    expect(result.replayed).toBe(false);
    expect(result.deposit).toMatchObject({ accountId: account, amountMinor: 2_500n, currency: 'USD', depositReference: request.depositReference, topUpId: request.topUpId });
    expect(await balanceOf(pool, account!)).toBe(2_500n);
    expect(await balanceOf(pool, SETTLEMENT)).toBe(settlementBefore - 2_500n);

    const { rows: entries } = await pool.query<{ account_id: string; amount_minor: bigint }>(
      'SELECT account_id, amount_minor FROM bank.ledger_entries WHERE deposit_id = $1 ORDER BY id',
      [result.deposit.id],
    );
    expect(entries).toEqual([
      { account_id: SETTLEMENT, amount_minor: -2_500n },
      { account_id: account, amount_minor: 2_500n },
    ]);
    const { rows: events } = await pool.query<{ account_id: string; event_type: string; payload: Record<string, unknown> }>(
      `SELECT account_id, event_type, payload FROM bank.outbox WHERE payload->>'depositId' = $1`,
      [result.deposit.id],
    );
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ account_id: account, event_type: 'topup', payload: { topUpId: request.topUpId, amount: '25.00', cardLast4: '4242', cardBrand: 'visa' } });
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });

  it('replays the original deposit for the same reference and request', async () => {
    const [account] = await createAccounts(pool, 1, 0n);
    const request = deposit(account!, 1_000n);
    const first = await ops.depositMoney(request);
    const second = await ops.depositMoney(request);
    expect(second).toEqual({ deposit: first.deposit, replayed: true });
    expect(await balanceOf(pool, account!)).toBe(1_000n);
  });

  it('applies 30 concurrent identical deposits once and answers every caller with the deposit', async () => {
    const [account] = await createAccounts(pool, 1, 0n);
    const request = deposit(account!, 1_000n);
    const results = await Promise.all(Array.from({ length: 30 }, () => ops.depositMoney(request)));
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    expect(new Set(results.map((r) => r.deposit.id)).size).toBe(1);
    expect(await balanceOf(pool, account!)).toBe(1_000n);
    const { rows } = await pool.query<{ n: bigint }>('SELECT count(*) AS n FROM bank.deposits WHERE deposit_reference = $1', [request.depositReference]);
    expect(rows[0]!.n).toBe(1n);
  });

  it('rejects a reused reference with a different request, changing nothing', async () => {
    const [account, other] = await createAccounts(pool, 2, 0n);
    const request = deposit(account!, 1_000n);
    await ops.depositMoney(request);
    const deposits = await countRows(pool, 'deposits');
    for (const change of [{ amount: { amountMinor: 1_001n, currencyCode: 'USD' } }, { accountId: other! }, { card: { cardLast4: '1111', cardBrand: 'visa' } }]) {
      expect(await rejection(ops.depositMoney({ ...request, ...change }))).toBeInstanceOf(IdempotencyKeyReusedError);
    }
    expect(await countRows(pool, 'deposits')).toBe(deposits);
    expect(await balanceOf(pool, account!)).toBe(1_000n);
  });

  it.each([
    ['an unknown account', () => deposit('00000000-0000-4000-8000-00000000dead', 100n), AccountNotFoundError],
    ['the settlement account itself', () => deposit(SETTLEMENT, 100n), AccountNotFoundError],
    ['another currency', () => deposit(SETTLEMENT, 100n, { accountId: '123e4567-e89b-12d3-a456-426614174000', amount: { amountMinor: 100n, currencyCode: 'EUR' } }), CurrencyMismatchError],
    ['a zero amount', () => deposit(SETTLEMENT, 0n), InvalidAmountError],
    ['a missing card', () => deposit('123e4567-e89b-12d3-a456-426614174000', 100n, { card: undefined }), InvalidArgumentError],
  ])('rejects %s and changes nothing', async (_name, make, errorClass) => {
    const before = { deposits: await countRows(pool, 'deposits'), settlement: await balanceOf(pool, SETTLEMENT) };
    expect(await rejection(ops.depositMoney(make()))).toBeInstanceOf(errorClass);
    expect({ deposits: await countRows(pool, 'deposits'), settlement: await balanceOf(pool, SETTLEMENT) }).toEqual(before);
  });

  it('keeps the ledger whole across concurrent deposits and transfers', async () => {
    const accounts = await createAccounts(pool, 5, 1_000n);
    await Promise.all([
      ...accounts.map((a) => ops.depositMoney(deposit(a, 500n))),
      ...accounts.map((a, i) =>
        ops.transferMoney({
          senderAccountId: a,
          recipientAccountId: accounts[(i + 1) % accounts.length]!,
          amount: { amountMinor: 700n, currencyCode: 'USD' },
          idempotencyKey: `mix-${i}`,
          description: '',
        }, ADMIN),
      ),
    ]);
    expect(await ledgerInvariants(pool)).toEqual(HEALTHY_LEDGER);
  });
});
