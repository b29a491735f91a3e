import type { AccountState } from '../../src/domain/ledger.js';

/** A customer account state for pure tests: no holds, no overdraft, no limits, nothing spent (override what matters). */
export function accountState(overrides: Partial<AccountState> & { id: string }): AccountState {
  return {
    kind: 'customer',
    currency: 'USD',
    balanceMinor: 0n,
    version: 1n,
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
