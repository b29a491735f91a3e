import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, LimitAboveMaximumError, RoleForbiddenError } from '../../src/domain/errors.js';
import { applyLimitsChange, checkMaySetLimits, limitsView, validateSetLimitsRequest, type AccountLimitsState, type LimitsChange } from '../../src/domain/limits.js';
import { accountState } from '../support/account-state.js';
import { ADMIN, ALICE_USER, principal } from '../support/callers.js';

const A = '00000000-0000-0000-0000-00000000000a';
const none: AccountLimitsState = { overdraftLimitMinor: 0n, dailyLimitMinor: null, monthlyLimitMinor: null, dailyLimitMaxMinor: null, monthlyLimitMaxMinor: null, timeZone: 'UTC' };
const change = (c: Partial<LimitsChange>): LimitsChange => ({
  accountId: A,
  overdraftLimitMinor: undefined,
  dailyLimitMinor: undefined,
  monthlyLimitMinor: undefined,
  dailyLimitMaxMinor: undefined,
  monthlyLimitMaxMinor: undefined,
  timeZone: undefined,
  ...c,
});

describe('applyLimitsChange', () => {
  it('leaves absent fields unchanged and clears with null (an overdraft cleared is 0)', () => {
    const current = { ...none, overdraftLimitMinor: 500n, dailyLimitMinor: 100n, monthlyLimitMinor: 900n };
    expect(applyLimitsChange(current, change({ monthlyLimitMinor: null, overdraftLimitMinor: null }))).toEqual({ ...current, monthlyLimitMinor: null, overdraftLimitMinor: 0n });
  });

  it('a new maximum lowers a limit above it, and sets one where there was none', () => {
    expect(applyLimitsChange({ ...none, dailyLimitMinor: 900n }, change({ dailyLimitMaxMinor: 500n }))).toMatchObject({ dailyLimitMinor: 500n });
    expect(applyLimitsChange(none, change({ monthlyLimitMaxMinor: 700n }))).toMatchObject({ monthlyLimitMinor: 700n });
    expect(applyLimitsChange({ ...none, dailyLimitMinor: 100n }, change({ dailyLimitMaxMinor: 500n }))).toMatchObject({ dailyLimitMinor: 100n });
  });

  it('refuses a limit above its maximum, and clearing a limit that has a maximum', () => {
    const capped = { ...none, dailyLimitMinor: 100n, dailyLimitMaxMinor: 500n };
    expect(() => applyLimitsChange(capped, change({ dailyLimitMinor: 501n }))).toThrow(LimitAboveMaximumError);
    expect(() => applyLimitsChange(capped, change({ dailyLimitMinor: null }))).toThrow(LimitAboveMaximumError);
    expect(applyLimitsChange(capped, change({ dailyLimitMinor: 500n, dailyLimitMaxMinor: null }))).toMatchObject({ dailyLimitMinor: 500n, dailyLimitMaxMinor: null });
  });
});

describe('validateSetLimitsRequest and checkMaySetLimits', () => {
  it('canonicalises the zone and refuses unknown zones, negative amounts and an amount with clear', () => {
    expect(validateSetLimitsRequest({ accountId: A, timeZone: 'america/new_york' }).timeZone).toBe('America/New_York');
    for (const bad of [
      { accountId: A, timeZone: 'Nowhere/Else' },
      { accountId: A, timeZone: '', dailyLimit: { clear: false, amountMinor: -1n } },
      { accountId: A, timeZone: '', dailyLimit: { clear: true, amountMinor: 5n } },
      { accountId: 'nope', timeZone: '' },
    ]) {
      expect(() => validateSetLimitsRequest(bad)).toThrow(InvalidArgumentError);
    }
  });

  it('owner: limits and zone only; support: nothing; admin: everything', () => {
    const owner = { ownerId: ALICE_USER };
    const alice = principal(ALICE_USER);
    expect(() => checkMaySetLimits(alice, change({ dailyLimitMinor: 1n, timeZone: 'UTC' }), owner)).not.toThrow();
    expect(() => checkMaySetLimits(alice, change({ overdraftLimitMinor: 1n }), owner)).toThrow(RoleForbiddenError);
    expect(() => checkMaySetLimits(alice, change({ monthlyLimitMaxMinor: 1n }), owner)).toThrow(RoleForbiddenError);
    expect(() => checkMaySetLimits(principal('someone', ['support']), change({ dailyLimitMinor: 1n }), owner)).toThrow(RoleForbiddenError);
    expect(() => checkMaySetLimits(ADMIN, change({ overdraftLimitMinor: 1n, dailyLimitMaxMinor: 1n }), owner)).not.toThrow();
  });
});

describe('limitsView', () => {
  it('counts only the current windows and never shows a negative remainder', () => {
    const state = { ...accountState({ id: A }), ...none, dailyLimitMinor: 100n, spentDay: '2026-05-09', spentDayMinor: 80n, spentMonth: '2026-05-01', spentMonthMinor: 80n, monthlyLimitMinor: 50n };
    expect(limitsView(state, new Date('2026-05-10T12:00:00Z'))).toMatchObject({ dailySpentMinor: 0n, dailyRemainingMinor: 100n, monthlySpentMinor: 80n, monthlyRemainingMinor: 0n });
  });
});
