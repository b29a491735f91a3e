import { describe, expect, it } from 'vitest';
import { InsufficientFundsError, LimitExceededError } from '../../src/domain/errors.js';
import {
  canonicalTimeZone,
  checkOutgoing,
  currentCounters,
  localWindows,
  releaseSpend,
  type SpendingState,
} from '../../src/domain/spending.js';

const A = '00000000-0000-0000-0000-00000000000a';

function state(overrides: Partial<SpendingState> = {}): SpendingState {
  return {
    balanceMinor: 10_000n,
    pendingOutMinor: 0n,
    overdraftLimitMinor: 0n,
    dailyLimitMinor: null,
    monthlyLimitMinor: null,
    timeZone: 'UTC',
    spentDay: null,
    spentDayMinor: 0n,
    spentMonth: null,
    spentMonthMinor: 0n,
    ...overrides,
  };
}

function refusal(result: ReturnType<typeof checkOutgoing>) {
  if (result.ok) throw new Error('expected a refusal');
  return result.error;
}

describe('localWindows', () => {
  it('gives the UTC day and month', () => {
    expect(localWindows(new Date('2026-03-31T23:59:59.999Z'), 'UTC')).toEqual({ day: '2026-03-31', month: '2026-03-01' });
    expect(localWindows(new Date('2026-04-01T00:00:00.000Z'), 'UTC')).toEqual({ day: '2026-04-01', month: '2026-04-01' });
  });

  it('moves to the next local day at the time zone midnight, not at UTC midnight', () => {
    // Europe/Paris is UTC+1 in winter: local midnight is 23:00 UTC.
    expect(localWindows(new Date('2026-01-14T22:59:59.999Z'), 'Europe/Paris').day).toBe('2026-01-14');
    expect(localWindows(new Date('2026-01-14T23:00:00.000Z'), 'Europe/Paris').day).toBe('2026-01-15');
    // America/New_York is UTC-5 in winter: 03:00 UTC is still the previous local day.
    expect(localWindows(new Date('2026-01-15T03:00:00.000Z'), 'America/New_York').day).toBe('2026-01-14');
  });

  it('moves to the next local month at the month end of the zone', () => {
    // Asia/Tokyo is UTC+9: 2026-01-31T15:00Z is already 1 February locally.
    expect(localWindows(new Date('2026-01-31T14:59:59.000Z'), 'Asia/Tokyo')).toEqual({ day: '2026-01-31', month: '2026-01-01' });
    expect(localWindows(new Date('2026-01-31T15:00:00.000Z'), 'Asia/Tokyo')).toEqual({ day: '2026-02-01', month: '2026-02-01' });
    // Year end west of UTC: still December in Los Angeles.
    expect(localWindows(new Date('2027-01-01T07:59:00.000Z'), 'America/Los_Angeles')).toEqual({ day: '2026-12-31', month: '2026-12-01' });
  });

  it('follows daylight saving (Paris is UTC+2 in summer)', () => {
    expect(localWindows(new Date('2026-07-14T21:59:59.000Z'), 'Europe/Paris').day).toBe('2026-07-14');
    expect(localWindows(new Date('2026-07-14T22:00:00.000Z'), 'Europe/Paris').day).toBe('2026-07-15');
  });
});

describe('canonicalTimeZone', () => {
  it('accepts IANA zones and returns their canonical spelling', () => {
    expect(canonicalTimeZone('UTC')).toBe('UTC');
    expect(canonicalTimeZone('Europe/Paris')).toBe('Europe/Paris');
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
  });

  it('refuses unknown zones, fixed offsets and oversized input', () => {
    expect(canonicalTimeZone('Mars/Olympus')).toBeNull();
    expect(canonicalTimeZone('+01:00')).toBeNull();
    expect(canonicalTimeZone('')).toBeNull();
    expect(canonicalTimeZone('x'.repeat(65))).toBeNull();
  });
});

describe('checkOutgoing', () => {
  const at = new Date('2026-05-10T12:00:00.000Z');

  it('allows spending the whole available balance and advances both counters', () => {
    const result = checkOutgoing(A, state(), 10_000n, at);
    expect(result).toEqual({
      ok: true,
      spend: { spentDay: '2026-05-10', spentDayMinor: 10_000n, spentMonth: '2026-05-01', spentMonthMinor: 10_000n },
    });
  });

  it('refuses more than available with INSUFFICIENT_FUNDS when no overdraft is set', () => {
    expect(refusal(checkOutgoing(A, state(), 10_001n, at))).toBeInstanceOf(InsufficientFundsError);
  });

  it('counts pending outgoing holds against the funds', () => {
    expect(refusal(checkOutgoing(A, state({ pendingOutMinor: 9_000n }), 1_001n, at))).toBeInstanceOf(InsufficientFundsError);
    expect(checkOutgoing(A, state({ pendingOutMinor: 9_000n }), 1_000n, at).ok).toBe(true);
  });

  it('allows going negative down to the overdraft and no further (LIMIT_EXCEEDED overdraft, remaining)', () => {
    const s = state({ balanceMinor: 1_000n, overdraftLimitMinor: 5_000n });
    expect(checkOutgoing(A, s, 6_000n, at).ok).toBe(true);
    const error = refusal(checkOutgoing(A, s, 6_001n, at));
    expect(error).toBeInstanceOf(LimitExceededError);
    expect(error.metadata).toMatchObject({ accountId: A, limit: 'overdraft', remaining: '60.00' });
  });

  it('reports 0 remaining when already beyond the overdraft (a forced reversal put it there)', () => {
    const error = refusal(checkOutgoing(A, state({ balanceMinor: -7_000n, overdraftLimitMinor: 5_000n }), 1n, at));
    expect(error.metadata).toMatchObject({ limit: 'overdraft', remaining: '0.00' });
  });

  it('refuses beyond the daily limit with the remaining allowance of the day', () => {
    const s = state({ dailyLimitMinor: 5_000n, spentDay: '2026-05-10', spentDayMinor: 3_000n, spentMonth: '2026-05-01', spentMonthMinor: 3_000n });
    expect(checkOutgoing(A, s, 2_000n, at).ok).toBe(true);
    const error = refusal(checkOutgoing(A, s, 2_001n, at));
    expect(error).toBeInstanceOf(LimitExceededError);
    expect(error.metadata).toMatchObject({ limit: 'daily', remaining: '20.00' });
  });

  it('starts a new day at 0 while the month keeps counting', () => {
    const s = state({
      dailyLimitMinor: 5_000n,
      monthlyLimitMinor: 8_000n,
      spentDay: '2026-05-09',
      spentDayMinor: 5_000n,
      spentMonth: '2026-05-01',
      spentMonthMinor: 5_000n,
    });
    expect(checkOutgoing(A, s, 3_000n, at)).toEqual({
      ok: true,
      spend: { spentDay: '2026-05-10', spentDayMinor: 3_000n, spentMonth: '2026-05-01', spentMonthMinor: 8_000n },
    });
    expect(refusal(checkOutgoing(A, s, 3_001n, at)).metadata).toMatchObject({ limit: 'monthly', remaining: '30.00' });
  });

  it('starts a new month at 0 at the local month end', () => {
    const s = state({
      timeZone: 'Asia/Tokyo',
      monthlyLimitMinor: 1_000n,
      spentDay: '2026-01-31',
      spentDayMinor: 1_000n,
      spentMonth: '2026-01-01',
      spentMonthMinor: 1_000n,
    });
    expect(refusal(checkOutgoing(A, s, 1n, new Date('2026-01-31T14:59:59.000Z'))).metadata).toMatchObject({ limit: 'monthly' });
    expect(checkOutgoing(A, s, 1_000n, new Date('2026-01-31T15:00:00.000Z'))).toEqual({
      ok: true,
      spend: { spentDay: '2026-02-01', spentDayMinor: 1_000n, spentMonth: '2026-02-01', spentMonthMinor: 1_000n },
    });
  });

  it('checks funds before limits', () => {
    const s = state({ balanceMinor: 100n, dailyLimitMinor: 50n });
    expect(refusal(checkOutgoing(A, s, 200n, at))).toBeInstanceOf(InsufficientFundsError);
  });

  it('a limit of 0 blocks every outgoing amount', () => {
    expect(refusal(checkOutgoing(A, state({ dailyLimitMinor: 0n }), 1n, at)).metadata).toMatchObject({ limit: 'daily', remaining: '0.00' });
  });
});

describe('currentCounters', () => {
  it('never moves a counter backwards when our clock is behind the window written by another replica', () => {
    const s = state({ spentDay: '2026-05-11', spentDayMinor: 700n, spentMonth: '2026-05-01', spentMonthMinor: 900n });
    expect(currentCounters(s, new Date('2026-05-10T23:59:59.000Z'))).toEqual({
      spentDay: '2026-05-11',
      spentDayMinor: 700n,
      spentMonth: '2026-05-01',
      spentMonthMinor: 900n,
    });
  });
});

describe('releaseSpend', () => {
  const s = state({ spentDay: '2026-05-10', spentDayMinor: 3_000n, spentMonth: '2026-05-01', spentMonthMinor: 9_000n });

  it('gives the spend back within the same day and month', () => {
    expect(releaseSpend(s, 1_000n, new Date('2026-05-10T08:00:00Z'), new Date('2026-05-10T20:00:00Z'))).toEqual({
      spentDay: '2026-05-10',
      spentDayMinor: 2_000n,
      spentMonth: '2026-05-01',
      spentMonthMinor: 8_000n,
    });
  });

  it('gives back only the month when the hold was made on an earlier day of the month', () => {
    expect(releaseSpend(s, 1_000n, new Date('2026-05-09T08:00:00Z'), new Date('2026-05-10T20:00:00Z'))).toEqual({
      spentDay: '2026-05-10',
      spentDayMinor: 3_000n,
      spentMonth: '2026-05-01',
      spentMonthMinor: 8_000n,
    });
  });

  it('gives nothing back once the windows of the hold have passed', () => {
    expect(releaseSpend(s, 1_000n, new Date('2026-04-30T08:00:00Z'), new Date('2026-05-10T20:00:00Z'))).toEqual({
      spentDay: '2026-05-10',
      spentDayMinor: 3_000n,
      spentMonth: '2026-05-01',
      spentMonthMinor: 9_000n,
    });
  });

  it('never goes below 0', () => {
    const update = releaseSpend(s, 50_000n, new Date('2026-05-10T08:00:00Z'), new Date('2026-05-10T09:00:00Z'));
    expect(update.spentDayMinor).toBe(0n);
    expect(update.spentMonthMinor).toBe(0n);
  });

  it('on an old counter (new day since) it returns the current window at 0', () => {
    const old = state({ spentDay: '2026-05-01', spentDayMinor: 3_000n, spentMonth: '2026-04-01', spentMonthMinor: 3_000n });
    expect(releaseSpend(old, 1_000n, new Date('2026-05-01T08:00:00Z'), new Date('2026-05-10T09:00:00Z'))).toEqual({
      spentDay: '2026-05-10',
      spentDayMinor: 0n,
      spentMonth: '2026-05-01',
      spentMonthMinor: 0n,
    });
  });
});
