// Limits on a real PostgreSQL (ADR 0016): spending limits decided inside the
// transfer batch (group commit on), bound to the key like any business
// failure, windows in the account's time zone, the overdraft as the only way
// below zero, and who may change what.
import type { TestDatabase } from '@wallet/testkit';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BankOperations, BankOperationsOptions, TransferBatchReport, TransferResult } from '../../src/app/operations.js';
import { LimitsUseCase } from '../../src/app/limits.js';
import {
  BankError,
  IdempotencyKeyReusedError,
  LimitAboveMaximumError,
  LimitExceededError,
  RoleForbiddenError,
} from '../../src/domain/errors.js';
import type { LimitUpdateInput, SetLimitsInput } from '../../src/domain/limits.js';
import type { TransferMoneyInput } from '../../src/domain/requests.js';
import { ADMIN, ALICE_USER, BOB_USER, principal } from '../support/callers.js';
import { balanceOf, createAccounts, createMigratedDatabase, ledgerInvariants, rejection, testOperations, testPool } from '../support/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let keyCounter = 0;
const newKey = () => `limits-${(keyCounter += 1)}`;

beforeAll(async () => {
  db = await createMigratedDatabase('bank_limits');
  pool = testPool(db.url, { connectionsMax: 10 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

function transfer(sender: string, recipient: string, amountMinor: bigint, extra: Partial<TransferMoneyInput> = {}): TransferMoneyInput {
  return { senderAccountId: sender, recipientAccountId: recipient, amount: { amountMinor, currencyCode: 'USD' }, idempotencyKey: newKey(), description: '', ...extra };
}

function setting(accountId: string, limits: Partial<Omit<SetLimitsInput, 'accountId'>>): SetLimitsInput {
  return { accountId, timeZone: '', ...limits };
}

const amount = (amountMinor: bigint): LimitUpdateInput => ({ clear: false, amountMinor });
const clear: LimitUpdateInput = { clear: true, amountMinor: 0n };

function observed(options: Partial<BankOperationsOptions> = {}) {
  const batches: TransferBatchReport[] = [];
  const ops = testOperations(pool, { onTransferBatch: (report) => batches.push(report), ...options });
  return { ops, batches, limits: new LimitsUseCase(ops.context) };
}

function reasonOf(result: PromiseSettledResult<TransferResult>): string {
  if (result.status === 'fulfilled') return result.value.replayed ? 'replayed' : 'ok';
  return result.reason instanceof BankError ? result.reason.reason : `other: ${(result.reason as Error).message}`;
}

function together(ops: BankOperations, requests: TransferMoneyInput[]) {
  return Promise.allSettled(requests.map((r) => ops.transferMoney(r, ADMIN)));
}

async function spent(accountId: string) {
  const { rows } = await pool.query<{ day: string | null; day_minor: bigint; month: string | null; month_minor: bigint }>(
    `SELECT to_char(spent_day, 'YYYY-MM-DD') AS day, spent_day_minor AS day_minor, to_char(spent_month, 'YYYY-MM-DD') AS month,
            spent_month_minor AS month_minor FROM bank.accounts WHERE id = $1`,
    [accountId],
  );
  return rows[0]!;
}

async function setOwner(accountId: string, ownerId: string): Promise<void> {
  await pool.query('UPDATE bank.accounts SET owner_id = $2 WHERE id = $1', [accountId, ownerId]);
}

describe('spending limits in the transfer batch', () => {
  it('refuses the 2nd transfer of one batch that breaks the daily limit; the 1st and 3rd commit and the counter holds their sum', async () => {
    const { ops, batches, limits } = observed();
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    await limits.setAccountLimits(setting(a!, { dailyLimit: amount(1_000n) }), ADMIN);

    const results = await together(ops, [transfer(a!, b!, 600n), transfer(a!, b!, 500n), transfer(a!, b!, 400n)]);

    expect(results.map(reasonOf)).toEqual(['ok', 'LIMIT_EXCEEDED', 'ok']);
    expect(batches).toEqual([{ size: 3, outcome: 'committed' }]);
    const refusal = (results[1] as PromiseRejectedResult).reason as LimitExceededError;
    expect(refusal.metadata).toMatchObject({ accountId: a, limit: 'daily', remaining: '4.00' });
    expect(await balanceOf(pool, a!)).toBe(9_000n);
    expect(await spent(a!)).toMatchObject({ day_minor: 1_000n, month_minor: 1_000n });
    const view = await limits.getAccountLimits(a!, ADMIN);
    expect(view.view).toMatchObject({ dailyLimitMinor: 1_000n, dailySpentMinor: 1_000n, dailyRemainingMinor: 0n, monthlyRemainingMinor: null });
  });

  it('binds LIMIT_EXCEEDED to the key: the same request replays it even after the limit is raised, another request is REUSED', async () => {
    const { ops, limits } = observed();
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    await limits.setAccountLimits(setting(a!, { monthlyLimit: amount(300n) }), ADMIN);
    const request = transfer(a!, b!, 500n);

    const first = await rejection(ops.transferMoney(request, ADMIN));
    expect(first).toBeInstanceOf(LimitExceededError);
    expect((first as BankError).metadata).toMatchObject({ limit: 'monthly', remaining: '3.00' });

    await limits.setAccountLimits(setting(a!, { monthlyLimit: clear }), ADMIN);
    const replay = (await rejection(ops.transferMoney(request, ADMIN))) as BankError;
    expect(replay).toBeInstanceOf(LimitExceededError);
    expect(replay.metadata).toMatchObject({ limit: 'monthly', remaining: '3.00', replayed: 'true' });
    expect(await rejection(ops.transferMoney({ ...request, amount: { amountMinor: 100n, currencyCode: 'USD' } }, ADMIN))).toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
    expect(await balanceOf(pool, a!)).toBe(10_000n);
  });

  it('counts the day in the account time zone: the limit is full before Paris midnight and free again after it', async () => {
    let nowMs = Date.parse('2026-01-14T22:30:00.000Z'); // 23:30 in Paris
    const { ops, limits } = observed({ clock: () => new Date(nowMs) });
    const [a, b] = await createAccounts(pool, 2, 10_000n);
    await limits.setAccountLimits(setting(a!, { dailyLimit: amount(1_000n), timeZone: 'Europe/Paris' }), ADMIN);

    await ops.transferMoney(transfer(a!, b!, 1_000n), ADMIN);
    expect(await rejection(ops.transferMoney(transfer(a!, b!, 1n), ADMIN))).toBeInstanceOf(LimitExceededError);
    expect(await spent(a!)).toMatchObject({ day: '2026-01-14', day_minor: 1_000n });

    nowMs = Date.parse('2026-01-14T23:00:00.000Z'); // midnight in Paris, still the 14th in UTC
    await ops.transferMoney(transfer(a!, b!, 700n), ADMIN);
    expect(await spent(a!)).toMatchObject({ day: '2026-01-15', day_minor: 700n, month: '2026-01-01', month_minor: 1_700n });
  });
});

describe('overdraft', () => {
  it('lets an account go negative down to its overdraft and no further; it cannot be lowered below the debt', async () => {
    const { ops, limits } = observed();
    const [a, b] = await createAccounts(pool, 2, 1_000n);
    await limits.setAccountLimits(setting(a!, { overdraftLimit: amount(500n) }), ADMIN);

    await ops.transferMoney(transfer(a!, b!, 1_500n), ADMIN);
    expect(await balanceOf(pool, a!)).toBe(-500n);
    const refusal = (await rejection(ops.transferMoney(transfer(a!, b!, 1n), ADMIN))) as BankError;
    expect(refusal).toBeInstanceOf(LimitExceededError);
    expect(refusal.metadata).toMatchObject({ limit: 'overdraft', remaining: '0.00' });

    const lowered = (await rejection(limits.setAccountLimits(setting(a!, { overdraftLimit: amount(499n) }), ADMIN))) as BankError;
    expect(lowered.reason).toBe('LIMIT_EXCEEDED');
    expect(lowered.metadata).toMatchObject({ limit: 'overdraft', debt: '5.00' });
    expect(lowered.message).toMatch(/cannot go below what it owes now \(5\.00\)/);
    expect((await limits.getAccountLimits(a!, ADMIN)).view.overdraftLimitMinor).toBe(500n);

    const invariants = await ledgerInvariants(pool);
    expect(invariants).toMatchObject({ balanceSum: 0n, entrySum: 0n, accountsOutOfBalance: 0, accountsWithWrongBalanceAfter: 0, unbalancedMovements: 0 });
    const { rows } = await pool.query<{ n: bigint }>(
      `SELECT count(*) AS n FROM bank.accounts WHERE kind = 'customer' AND balance_minor - pending_out_minor < -overdraft_limit_minor`,
    );
    expect(rows[0]!.n).toBe(0n);
  });

  it('without an overdraft a shortfall stays INSUFFICIENT_FUNDS', async () => {
    const { ops } = observed();
    const [a, b] = await createAccounts(pool, 2, 100n);
    expect(((await rejection(ops.transferMoney(transfer(a!, b!, 101n), ADMIN))) as BankError).reason).toBe('INSUFFICIENT_FUNDS');
  });
});

describe('who may set which limit', () => {
  const alice = principal(ALICE_USER);
  const bob = principal(BOB_USER);
  const support = principal('33333333-3333-4333-8333-333333333333', ['support']);

  it('lets the owner set daily and monthly limits within the maxima and the time zone, nothing else', async () => {
    const { limits } = observed();
    const [a] = await createAccounts(pool, 1, 0n);
    await setOwner(a!, ALICE_USER);
    await limits.setAccountLimits(setting(a!, { dailyLimitMax: amount(5_000n), monthlyLimitMax: amount(20_000n) }), ADMIN);

    const own = await limits.setAccountLimits(setting(a!, { dailyLimit: amount(5_000n), monthlyLimit: amount(9_000n), timeZone: 'asia/tokyo' }), alice);
    expect(own.view).toMatchObject({ dailyLimitMinor: 5_000n, monthlyLimitMinor: 9_000n, timeZone: 'Asia/Tokyo' });

    const above = (await rejection(limits.setAccountLimits(setting(a!, { dailyLimit: amount(5_001n) }), alice))) as BankError;
    expect(above).toBeInstanceOf(LimitAboveMaximumError);
    expect(above.metadata).toMatchObject({ limit: 'daily', maximum: '50.00' });
    expect(await rejection(limits.setAccountLimits(setting(a!, { monthlyLimit: clear }), alice))).toBeInstanceOf(LimitAboveMaximumError);
    expect(await rejection(limits.setAccountLimits(setting(a!, { overdraftLimit: amount(1n) }), alice))).toBeInstanceOf(RoleForbiddenError);
    expect(await rejection(limits.setAccountLimits(setting(a!, { dailyLimitMax: amount(9_000n) }), alice))).toBeInstanceOf(RoleForbiddenError);
    expect(await rejection(limits.setAccountLimits(setting(a!, { dailyLimit: amount(1n) }), support))).toBeInstanceOf(RoleForbiddenError);
    expect(((await rejection(limits.setAccountLimits(setting(a!, { dailyLimit: amount(1n) }), bob))) as BankError).reason).toBe('ACCOUNT_NOT_FOUND');
    expect(((await rejection(limits.getAccountLimits(a!, bob))) as BankError).reason).toBe('ACCOUNT_NOT_FOUND');
    expect((await limits.getAccountLimits(a!, support)).view.dailyLimitMinor).toBe(5_000n);

    // A lower maximum brings the limit down with it.
    const lowered = await limits.setAccountLimits(setting(a!, { dailyLimitMax: amount(2_000n) }), ADMIN);
    expect(lowered.view).toMatchObject({ dailyLimitMinor: 2_000n, dailyLimitMaxMinor: 2_000n, monthlyLimitMinor: 9_000n });
  });

  it('refuses an unknown time zone and a negative limit, changing nothing', async () => {
    const { limits } = observed();
    const [a] = await createAccounts(pool, 1, 0n);
    expect(((await rejection(limits.setAccountLimits(setting(a!, { timeZone: 'Mars/Olympus' }), ADMIN))) as BankError).reason).toBe('INVALID_ARGUMENT');
    expect(((await rejection(limits.setAccountLimits(setting(a!, { dailyLimit: amount(-1n) }), ADMIN))) as BankError).reason).toBe('INVALID_ARGUMENT');
    expect((await limits.getAccountLimits(a!, ADMIN)).view).toMatchObject({ timeZone: 'UTC', dailyLimitMinor: null, overdraftLimitMinor: 0n });
  });
});
