// Account limits (ADR 0016), the pure part: who may change which limit, the
// rule that a customer limit never exceeds the admin's maximum, and the view
// of what is spent and left in the current windows.
import { hasRole, moveAccess, type Principal } from '@wallet/platform/auth';
import { formatAmountMinor } from '@wallet/platform';
import {
  AccountNotFoundError,
  BankError,
  InvalidArgumentError,
  LimitAboveMaximumError,
  RoleForbiddenError,
  type FieldViolation,
} from './errors.js';
import type { OwnerLookup } from './access.js';
import { isUuid } from './ids.js';
import { canonicalTimeZone, currentCounters, type SpendingState } from './spending.js';

/** The largest limit value: what fits a decimal amount at the edges (15 integer digits). */
export const LIMIT_MINOR_MAX = 99_999_999_999_999_99n;

export interface AccountLimitsState {
  overdraftLimitMinor: bigint;
  dailyLimitMinor: bigint | null;
  monthlyLimitMinor: bigint | null;
  dailyLimitMaxMinor: bigint | null;
  monthlyLimitMaxMinor: bigint | null;
  timeZone: string;
}

/** undefined = unchanged, null = clear (no limit; overdraft 0), else the new amount. */
export type LimitValue = bigint | null | undefined;

export interface LimitsChange {
  accountId: string;
  overdraftLimitMinor: LimitValue;
  dailyLimitMinor: LimitValue;
  monthlyLimitMinor: LimitValue;
  dailyLimitMaxMinor: LimitValue;
  monthlyLimitMaxMinor: LimitValue;
  /** Canonical IANA name; undefined = unchanged. */
  timeZone: string | undefined;
}

export interface LimitUpdateInput {
  clear: boolean;
  amountMinor: bigint;
}

export interface SetLimitsInput {
  accountId: string;
  overdraftLimit?: LimitUpdateInput | undefined;
  dailyLimit?: LimitUpdateInput | undefined;
  monthlyLimit?: LimitUpdateInput | undefined;
  dailyLimitMax?: LimitUpdateInput | undefined;
  monthlyLimitMax?: LimitUpdateInput | undefined;
  /** '' = unchanged. */
  timeZone: string;
}

/**
 * The overdraft cannot go below what the account already owes: the row's
 * check constraint refuses it, and the caller hears how much is owed.
 */
export class OverdraftBelowDebtError extends BankError {
  readonly reason = 'LIMIT_EXCEEDED';
  constructor(accountId: string, debt: string) {
    super(`the overdraft limit of account ${accountId} cannot go below what it owes now (${debt})`, {
      accountId,
      limit: 'overdraft',
      debt,
    });
  }
}

function limitValue(violations: FieldViolation[], field: string, input: LimitUpdateInput | undefined): LimitValue {
  if (input === undefined) return undefined;
  if (input.clear) {
    if (input.amountMinor !== 0n) violations.push({ field: `${field}.amount_minor`, description: 'must be 0 when clear is set' });
    return null;
  }
  if (input.amountMinor < 0n || input.amountMinor > LIMIT_MINOR_MAX) {
    violations.push({ field: `${field}.amount_minor`, description: `must be between 0 and ${LIMIT_MINOR_MAX.toString()}` });
  }
  return input.amountMinor;
}

export function validateSetLimitsRequest(input: SetLimitsInput): LimitsChange {
  const violations: FieldViolation[] = [];
  if (!isUuid(input.accountId)) violations.push({ field: 'account_id', description: 'must be a UUID' });
  let timeZone: string | undefined;
  if (input.timeZone !== '') {
    timeZone = canonicalTimeZone(input.timeZone) ?? undefined;
    if (timeZone === undefined) violations.push({ field: 'time_zone', description: 'must be an IANA time zone such as Europe/Paris' });
  }
  const change: LimitsChange = {
    accountId: input.accountId.toLowerCase(),
    overdraftLimitMinor: limitValue(violations, 'overdraft_limit', input.overdraftLimit),
    dailyLimitMinor: limitValue(violations, 'daily_limit', input.dailyLimit),
    monthlyLimitMinor: limitValue(violations, 'monthly_limit', input.monthlyLimit),
    dailyLimitMaxMinor: limitValue(violations, 'daily_limit_max', input.dailyLimitMax),
    monthlyLimitMaxMinor: limitValue(violations, 'monthly_limit_max', input.monthlyLimitMax),
    timeZone,
  };
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  return change;
}

/**
 * Who may set what: admin everything; the owner the daily and monthly limits
 * and the time zone; support nothing; anyone else hears "not found".
 */
export function checkMaySetLimits(caller: Principal, change: LimitsChange, owner: OwnerLookup): void {
  const access = owner === undefined ? 'not_found' : moveAccess(caller, owner.ownerId);
  if (access === 'forbidden') throw new RoleForbiddenError('set account limits');
  if (access === 'not_found') throw new AccountNotFoundError(change.accountId, 'account');
  if (hasRole(caller, 'admin')) return;
  const adminOnly = [change.overdraftLimitMinor, change.dailyLimitMaxMinor, change.monthlyLimitMaxMinor];
  if (adminOnly.some((value) => value !== undefined)) throw new RoleForbiddenError('set the overdraft limit or the limit maxima');
}

/**
 * The limits after a change. The maxima apply first; a customer limit is
 * then kept within its maximum for everyone: a new maximum lowers a limit
 * above it (or none) to the maximum, and a limit set above its maximum (or
 * cleared while a maximum exists) is refused with LIMIT_ABOVE_MAXIMUM.
 */
export function applyLimitsChange(current: AccountLimitsState, change: LimitsChange): AccountLimitsState {
  const pick = <T>(value: T | undefined, fallback: T): T => (value === undefined ? fallback : value);
  const dailyLimitMaxMinor = pick(change.dailyLimitMaxMinor, current.dailyLimitMaxMinor);
  const monthlyLimitMaxMinor = pick(change.monthlyLimitMaxMinor, current.monthlyLimitMaxMinor);
  return {
    overdraftLimitMinor: pick(change.overdraftLimitMinor, current.overdraftLimitMinor) ?? 0n,
    dailyLimitMinor: withinMaximum('daily', change.dailyLimitMinor, current.dailyLimitMinor, dailyLimitMaxMinor),
    monthlyLimitMinor: withinMaximum('monthly', change.monthlyLimitMinor, current.monthlyLimitMinor, monthlyLimitMaxMinor),
    dailyLimitMaxMinor,
    monthlyLimitMaxMinor,
    timeZone: change.timeZone ?? current.timeZone,
  };
}

function withinMaximum(limit: 'daily' | 'monthly', requested: LimitValue, current: bigint | null, maximum: bigint | null): bigint | null {
  if (maximum === null) return requested === undefined ? current : requested;
  if (requested === undefined) return current === null || current > maximum ? maximum : current;
  if (requested === null || requested > maximum) throw new LimitAboveMaximumError(limit, formatAmountMinor(maximum));
  return requested;
}

export interface LimitsView extends AccountLimitsState {
  dailySpentMinor: bigint;
  monthlySpentMinor: bigint;
  /** null: no limit. */
  dailyRemainingMinor: bigint | null;
  monthlyRemainingMinor: bigint | null;
}

/** The limits with what is spent and left in the windows current at `at`. */
export function limitsView(state: AccountLimitsState & SpendingState, at: Date): LimitsView {
  const counters = currentCounters(state, at);
  const left = (limit: bigint | null, spent: bigint) => (limit === null ? null : limit > spent ? limit - spent : 0n);
  return {
    overdraftLimitMinor: state.overdraftLimitMinor,
    dailyLimitMinor: state.dailyLimitMinor,
    monthlyLimitMinor: state.monthlyLimitMinor,
    dailyLimitMaxMinor: state.dailyLimitMaxMinor,
    monthlyLimitMaxMinor: state.monthlyLimitMaxMinor,
    timeZone: state.timeZone,
    dailySpentMinor: counters.spentDayMinor,
    monthlySpentMinor: counters.spentMonthMinor,
    dailyRemainingMinor: left(state.dailyLimitMinor, counters.spentDayMinor),
    monthlyRemainingMinor: left(state.monthlyLimitMinor, counters.spentMonthMinor),
  };
}
