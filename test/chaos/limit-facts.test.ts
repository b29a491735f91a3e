// Pure unit tests of the chaos run's spending-limit checks (scripts/chaos/limit-facts.mjs).
import { describe, expect, it } from 'vitest';
import { checkLimitFacts, checkLimitRefusals, LIMIT_PLANS, planLimits, type SpendingCounters } from '../../scripts/chaos/limit-facts.mjs';
import type { Op } from '../../scripts/chaos/model.mjs';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'aaaaaaaa-0000-4000-8000-000000000002';

const counters = (over: Partial<SpendingCounters> = {}): SpendingCounters => ({
  accountId: A,
  timeZone: 'UTC',
  dailyLimitMinor: 6_000n,
  monthlyLimitMinor: null,
  spentDay: '2026-12-02',
  spentDayMinor: 5_500n,
  spentMonth: '2026-12-01',
  spentMonthMinor: 5_500n,
  daySumMinor: 5_500n,
  monthSumMinor: 5_500n,
  ...over,
});

describe('planLimits', () => {
  it('puts one plan on each of the first accounts, and leaves at least two accounts without limits', () => {
    const accounts = Array.from({ length: 20 }, (_, i) => `acc-${i}`);
    const plans = planLimits(accounts);
    expect([...plans.keys()]).toEqual(['acc-0', 'acc-1', 'acc-2']);
    expect(plans.get('acc-1')).toEqual(LIMIT_PLANS[1]);
    expect(planLimits(['x', 'y', 'z']).size).toBe(1);
  });
});

describe('checkLimitFacts', () => {
  it('passes counters within their limits that equal what their windows add up to', () => {
    expect(checkLimitFacts([counters(), counters({ accountId: B, dailyLimitMinor: null })], new Map([[A, { dailyLimit: '60.00' }]]))).toEqual([]);
  });

  it('catches a counter above its daily or monthly limit', () => {
    const over = counters({ spentDayMinor: 6_100n, daySumMinor: 6_100n, monthlyLimitMinor: 6_000n, spentMonthMinor: 6_100n, monthSumMinor: 6_100n });
    const details = checkLimitFacts([over], new Map()).map((v) => `${v.invariant}: ${v.detail}`);
    expect(details).toEqual([
      `spent within limits: account ${A} (UTC): spent 61.00 on 2026-12-02, daily limit 60.00`,
      `spent within limits: account ${A} (UTC): spent 61.00 in 2026-12-01, monthly limit 60.00`,
    ]);
  });

  it("catches a counter that is not its window's transfers and holds out (a released hold not given back, a spend counted twice)", () => {
    const details = checkLimitFacts([counters({ daySumMinor: 4_500n }), counters({ accountId: B, dailyLimitMinor: null, monthSumMinor: 9_000n })], new Map()).map((v) => v.detail);
    expect(details).toEqual([
      `account ${A} (UTC): day 2026-12-02 counter 55.00, transfers and holds out 45.00`,
      `account ${B} (UTC): month 2026-12-01 counter 55.00, transfers and holds out 90.00`,
    ]);
  });

  it('catches planned limits missing from the row (a PUT that changed nothing)', () => {
    const plans = new Map([
      [A, { dailyLimit: '60.00' }],
      [B, { monthlyLimit: '80.00', timeZone: 'America/New_York' }],
    ]);
    const violations = checkLimitFacts([counters(), counters({ accountId: B, dailyLimitMinor: null, monthlyLimitMinor: 8_000n })], plans);
    expect(violations.map((v) => v.invariant)).toEqual(['limits set as asked']);
    expect(violations[0]!.detail).toContain(B);
  });
});

describe('checkLimitRefusals', () => {
  const refused = (from: string, code: string): Op => ({
    kind: 'transfer',
    key: `t-${from}-${code}`,
    from,
    to: from === A ? B : A,
    amountMinor: 1_000n,
    outcome: 'rejected',
    answers: [{ status: 422, code, atMs: 1 }],
  });

  it('counts LIMIT_EXCEEDED refusals per account and flags one from an account without a limit', () => {
    const result = checkLimitRefusals([refused(A, 'LIMIT_EXCEEDED'), refused(A, 'LIMIT_EXCEEDED'), refused(B, 'INSUFFICIENT_FUNDS'), refused(B, 'LIMIT_EXCEEDED')], new Map([[A, {}]]));
    expect(result.refusals).toEqual(new Map([[A, 2], [B, 1]]));
    expect(result.violations.map((v) => v.invariant)).toEqual(['LIMIT_EXCEEDED only where a limit is set']);
  });
});
