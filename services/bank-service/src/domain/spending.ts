// Outgoing money rules kept on the account row (ADR 0016): funds (available +
// overdraft), then the daily and monthly spending limits, counted in windows
// of the account's own time zone. Pure: the caller passes the locked row's
// state and the instant of the movement, and writes back the SpendUpdate.
import { formatAmountMinor } from '@wallet/platform';
import { InsufficientFundsError, LimitExceededError, type BankError } from './errors.js';

export interface SpendingState {
  balanceMinor: bigint;
  pendingOutMinor: bigint;
  overdraftLimitMinor: bigint;
  dailyLimitMinor: bigint | null;
  monthlyLimitMinor: bigint | null;
  timeZone: string;
  /** YYYY-MM-DD, the local day spentDayMinor belongs to; null = nothing spent yet. */
  spentDay: string | null;
  spentDayMinor: bigint;
  /** YYYY-MM-01, the local month spentMonthMinor belongs to; null = nothing spent yet. */
  spentMonth: string | null;
  spentMonthMinor: bigint;
}

export interface SpendUpdate {
  spentDay: string;
  spentDayMinor: bigint;
  spentMonth: string;
  spentMonthMinor: bigint;
}

export type OutgoingCheck = { ok: true; spend: SpendUpdate } | { ok: false; error: BankError };

/** Available = posted minus what outgoing holds keep back. */
export function availableMinor(state: Pick<SpendingState, 'balanceMinor' | 'pendingOutMinor'>): bigint {
  return state.balanceMinor - state.pendingOutMinor;
}

/**
 * Funds (available + overdraft: InsufficientFundsError, or LimitExceededError
 * 'overdraft' when an overdraft is set) then daily, monthly limits. The
 * counters are advanced even when no limit is set, so a limit set later in
 * the day already counts what was spent that day.
 */
export function checkOutgoing(accountId: string, state: SpendingState, amountMinor: bigint, at: Date): OutgoingCheck {
  const fundsMinor = availableMinor(state) + state.overdraftLimitMinor;
  if (fundsMinor < amountMinor) {
    if (state.overdraftLimitMinor > 0n) {
      return { ok: false, error: new LimitExceededError(accountId, 'overdraft', formatAmountMinor(nonNegative(fundsMinor))) };
    }
    return { ok: false, error: new InsufficientFundsError(accountId) };
  }
  const current = currentCounters(state, at);
  if (state.dailyLimitMinor !== null && current.spentDayMinor + amountMinor > state.dailyLimitMinor) {
    const remaining = nonNegative(state.dailyLimitMinor - current.spentDayMinor);
    return { ok: false, error: new LimitExceededError(accountId, 'daily', formatAmountMinor(remaining)) };
  }
  if (state.monthlyLimitMinor !== null && current.spentMonthMinor + amountMinor > state.monthlyLimitMinor) {
    const remaining = nonNegative(state.monthlyLimitMinor - current.spentMonthMinor);
    return { ok: false, error: new LimitExceededError(accountId, 'monthly', formatAmountMinor(remaining)) };
  }
  return {
    ok: true,
    spend: {
      spentDay: current.spentDay,
      spentDayMinor: current.spentDayMinor + amountMinor,
      spentMonth: current.spentMonth,
      spentMonthMinor: current.spentMonthMinor + amountMinor,
    },
  };
}

/**
 * Gives back spend of a released hold when `at` is still in the window of
 * `spentAt`: a hold voided the next day leaves yesterday's counter alone (it
 * no longer counts anyway). Never below 0.
 */
export function releaseSpend(state: SpendingState, amountMinor: bigint, spentAt: Date, at: Date): SpendUpdate {
  const current = currentCounters(state, at);
  const spent = localWindows(spentAt, state.timeZone);
  const dayMinor =
    spent.day === current.spentDay ? nonNegative(current.spentDayMinor - amountMinor) : current.spentDayMinor;
  const monthMinor =
    spent.month === current.spentMonth ? nonNegative(current.spentMonthMinor - amountMinor) : current.spentMonthMinor;
  return { spentDay: current.spentDay, spentDayMinor: dayMinor, spentMonth: current.spentMonth, spentMonthMinor: monthMinor };
}

/**
 * The counters as they count at `at`: a counter of an older window counts 0.
 * A counter of a NEWER window than `at` (another replica's clock ahead of
 * ours) is kept as it is, so clock skew never resets a counter backwards.
 */
export function currentCounters(state: SpendingState, at: Date): SpendUpdate {
  const now = localWindows(at, state.timeZone);
  const keepDay = state.spentDay !== null && state.spentDay >= now.day;
  const keepMonth = state.spentMonth !== null && state.spentMonth >= now.month;
  return {
    spentDay: keepDay ? state.spentDay! : now.day,
    spentDayMinor: keepDay ? state.spentDayMinor : 0n,
    spentMonth: keepMonth ? state.spentMonth! : now.month,
    spentMonthMinor: keepMonth ? state.spentMonthMinor : 0n,
  };
}

/** Local day (YYYY-MM-DD) and month (YYYY-MM-01) of `at` in an IANA time zone. */
export function localWindows(at: Date, timeZone: string): { day: string; month: string } {
  let day: string;
  if (timeZone === 'UTC') {
    day = at.toISOString().slice(0, 10); // the common case, without Intl
  } else {
    const parts = dayFormatter(timeZone).formatToParts(at);
    const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
    day = `${part('year')}-${part('month')}-${part('day')}`;
  }
  return { day, month: `${day.slice(0, 7)}-01` };
}

/**
 * The canonical IANA name of a time zone (e.g. "europe/paris" ->
 * "Europe/Paris"), or null when Intl does not know it. Offsets such as
 * "+01:00" are refused: a fixed offset would ignore daylight saving.
 */
export function canonicalTimeZone(timeZone: string): string | null {
  if (timeZone.length < 1 || timeZone.length > 64 || /^[+-]/.test(timeZone)) return null;
  try {
    return new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}

// Intl formatters are costly to build; one per zone, bounded (zones are a
// finite list, and only validated zones reach the hot path).
const formatterCountMax = 1000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function dayFormatter(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    if (formatters.size >= formatterCountMax) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

function nonNegative(value: bigint): bigint {
  return value < 0n ? 0n : value;
}
