// The chaos run's spending-counter fact (scripts/chaos/limit-facts.mjs) against the bank's own
// code on a real PostgreSQL: transfers and holds made by the bank's use cases with a clock that
// crosses midnight in the account's time zone; the SQL must count exactly what the bank's
// counters count (domain/spending.ts), and catch a counter that drifted.
import { randomUUID } from 'node:crypto';
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HoldUseCase } from '../../services/bank-service/src/app/holds.js';
import { LimitsUseCase } from '../../services/bank-service/src/app/limits.js';
import type { BankOperations } from '../../services/bank-service/src/app/operations.js';
import { ADMIN, principal } from '../../services/bank-service/test/support/callers.js';
import { createMigratedDatabase, testOperations, testPool } from '../../services/bank-service/test/support/helpers.js';
import { checkLimitFacts, readLimitFacts } from '../../scripts/chaos/limit-facts.mjs';

let db: TestDatabase;
let pool: pg.Pool;
let ops: BankOperations;
let holds: HoldUseCase;
let limits: LimitsUseCase;
/** The bank's clock: the test moves it across midnight in Paris. */
let nowMs = Date.parse('2026-01-14T22:30:00.000Z'); // 23:30 in Paris

beforeAll(async () => {
  db = await createMigratedDatabase('chaos_limit_facts');
  pool = testPool(db.url);
  ops = testOperations(pool, { clock: () => new Date(nowMs) });
  holds = new HoldUseCase(ops.context);
  limits = new LimitsUseCase(ops.context);
});

afterAll(async () => {
  await ops?.close();
  await pool?.end();
  await db?.drop();
});

async function customer(balanceMinor: bigint) {
  const caller = principal(`user-${randomUUID()}`);
  const { account } = await ops.createAccount({ idempotencyKey: 'k', currency: 'USD', ownerId: '' }, caller);
  if (balanceMinor > 0n)
    await ops.depositMoney({
    accountId: account.id,
    amount: { amountMinor: balanceMinor, currencyCode: 'USD' },
    depositReference: randomUUID(),
    topUpId: randomUUID(),
    card: { cardLast4: '4242', cardBrand: 'visa' },
    initiatedBy: caller.subject,
  });
  return { caller, accountId: account.id };
}

const money = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });
const hold = (from: string, to: string, amountMinor: bigint) => ({
  senderAccountId: from,
  recipientAccountId: to,
  amount: money(amountMinor),
  idempotencyKey: randomUUID(),
  description: '',
  expiresAt: undefined,
});

describe('the chaos run\'s spending-counter fact on the bank\'s own movements', () => {
  it('equals the counters across midnight in the account\'s zone (a hold made before it and voided after it keeps its day), and catches a drifted counter', async () => {
    const payer = await customer(100_000n);
    const payee = await customer(0n);
    await limits.setAccountLimits({ accountId: payer.accountId, timeZone: 'Europe/Paris', dailyLimit: { clear: false, amountMinor: 5_000n } }, ADMIN);
    const send = (amountMinor: bigint) =>
      ops.transferMoney({ senderAccountId: payer.accountId, recipientAccountId: payee.accountId, amount: money(amountMinor), idempotencyKey: randomUUID(), description: '' }, ADMIN);

    await send(1_000n);
    const beforeMidnight = await holds.createHold(hold(payer.accountId, payee.accountId, 500n), payer.caller);
    nowMs = Date.parse('2026-01-14T23:10:00.000Z'); // 00:10 on the 15th in Paris
    await holds.voidHold({ holdId: beforeMidnight.hold.id }, payer.caller); // the day's counter keeps it; the month gives it back
    await send(700n);
    const part = await holds.createHold(hold(payer.accountId, payee.accountId, 300n), payer.caller);
    await holds.captureHold({ holdId: part.hold.id, amount: money(100n) }, payer.caller); // 200 given back
    const voided = await holds.createHold(hold(payer.accountId, payee.accountId, 250n), payer.caller);
    await holds.voidHold({ holdId: voided.hold.id }, payer.caller);
    await holds.createHold(hold(payer.accountId, payee.accountId, 50n), payer.caller); // still pending

    const counters = await readLimitFacts(db.url);
    const row = counters.find((c) => c.accountId === payer.accountId)!;
    expect(row).toMatchObject({ timeZone: 'Europe/Paris', spentDay: '2026-01-15', spentDayMinor: 850n, daySumMinor: 850n, spentMonth: '2026-01-01', spentMonthMinor: 1_850n, monthSumMinor: 1_850n });
    expect(checkLimitFacts(counters, new Map([[payer.accountId, { dailyLimit: '50.00', timeZone: 'Europe/Paris' }]]))).toEqual([]);

    await pool.query('UPDATE bank.accounts SET spent_day_minor = spent_day_minor - 1 WHERE id = $1', [payer.accountId]);
    const drifted = checkLimitFacts(await readLimitFacts(db.url), new Map());
    expect(drifted.map((v) => v.detail)).toEqual([`account ${payer.accountId} (Europe/Paris): day 2026-01-15 counter 8.49, transfers and holds out 8.50`]);
  });
});
