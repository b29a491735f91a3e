// GetLedgerTotals (issue #15, the ledger side of the analytics cross-check):
// per customer account, the net of its non-opening entries up to an instant,
// paged by account id; settlement accounts and opening balances left out. Real PostgreSQL.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import { waitFor } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLedgerTotals, LEDGER_TOTALS_LIMIT_MAX, parseLedgerTotalsQuery } from '../../src/app/ledger-totals.js';
import type { BankOperations } from '../../src/app/operations.js';
import { InvalidArgumentError } from '../../src/domain/errors.js';
import { ADMIN, DEPOSITOR } from '../support/callers.js';
import { createAccounts, createMigratedDatabase, SETTLEMENT, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_ledger_totals');
  pool = testPool(db.url);
  ops = testOperations(pool);
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

/** Every page, `limit` accounts at a time (bounded). */
async function allTotals(upTo: Date, limit: number): Promise<{ totals: Map<string, { net: bigint; count: bigint }>; pages: number }> {
  const totals = new Map<string, { net: bigint; count: bigint }>();
  let after = '';
  let pages = 0;
  for (; pages < 1_000; pages += 1) {
    const page = await getLedgerTotals(ops.context, parseLedgerTotalsQuery({ afterAccountId: after, limit, upTo }));
    for (const t of page.totals) totals.set(t.accountId, { net: t.netMinor, count: t.entryCount });
    if (!page.nextAfterAccountId) break;
    after = page.nextAfterAccountId;
  }
  return { totals, pages: pages + 1 };
}

describe('GetLedgerTotals', () => {
  it('sums each customer account\'s posted entries up to the instant, without opening balances or settlement accounts', async () => {
    const [sender, recipient, topped] = await createAccounts(pool, 3, 10_000n);
    const before = new Date(Date.now() - 1);
    await ops.transferMoney({ senderAccountId: sender!, recipientAccountId: recipient!, amount: { amountMinor: 1_234n, currencyCode: 'USD' }, idempotencyKey: randomUUID(), description: 'x' }, ADMIN);
    await ops.depositMoney({ accountId: topped!, amount: { amountMinor: 500n, currencyCode: 'USD' }, depositReference: `totals-${randomUUID()}`, topUpId: randomUUID(), card: { cardLast4: '4242', cardBrand: 'visa' }, initiatedBy: DEPOSITOR });
    // created_at is the commit's decision time: wait until the clock has passed it.
    let after = new Date();
    await waitFor(async () => Date.now() > after.getTime(), { what: 'the clock to pass the last entry', timeoutMs: 1_000 });
    after = new Date();

    const { totals, pages } = await allTotals(after, 2);
    expect(pages).toBeGreaterThan(1);
    expect(totals.get(sender!)).toEqual({ net: -1_234n, count: 1n });
    expect(totals.get(recipient!)).toEqual({ net: 1_234n, count: 1n });
    expect(totals.get(topped!)).toEqual({ net: 500n, count: 1n });
    expect(totals.has(SETTLEMENT)).toBe(false);
    const ids = [...totals.keys()];
    expect(ids).toEqual([...ids].sort());

    const earlier = await allTotals(before, LEDGER_TOTALS_LIMIT_MAX);
    expect(earlier.pages).toBe(1);
    for (const id of [sender!, recipient!, topped!]) expect(earlier.totals.get(id)).toEqual({ net: 0n, count: 0n });
  });

  it.each([
    ['a limit of 0', { afterAccountId: '', limit: 0, upTo: new Date() }, 'limit'],
    ['a limit above the maximum', { afterAccountId: '', limit: LEDGER_TOTALS_LIMIT_MAX + 1, upTo: new Date() }, 'limit'],
    ['a malformed cursor', { afterAccountId: 'nope', limit: 10, upTo: new Date() }, 'after_account_id'],
    ['no instant', { afterAccountId: '', limit: 10, upTo: undefined }, 'up_to'],
  ])('refuses %s, naming the field', (_name, input, field) => {
    let error: unknown;
    try {
      parseLedgerTotalsQuery(input);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as InvalidArgumentError).fieldViolations.map((v) => v.field)).toEqual([field]);
  });
});
