// REST <-> gRPC for account limits (issue #15 F2, ADR 0016):
// GET /accounts/{id}/limits and PUT /accounts/{id}/limits. Pure.
import type { AccountLimits, LimitUpdate, SetAccountLimitsRequest } from '@wallet/contracts/bank';
import { formatAmountMinor, parseAmountMinor } from '@wallet/platform';
import { canonicalUuid, fieldProblem, UnexpectedUpstreamResponseError, type MoneyMessage } from './common.js';

/** Body of PUT /accounts/{accountId}/limits (validated against LimitsUpdate): absent = unchanged, null = clear. */
export interface LimitsUpdateBody {
  overdraftLimit?: string | null;
  dailyLimit?: string | null;
  monthlyLimit?: string | null;
  dailyLimitMax?: string | null;
  monthlyLimitMax?: string | null;
  timeZone?: string;
}

/** The Limits schema of openapi.yaml; null = no such limit. */
export interface LimitsResource {
  accountId: string;
  currency: string;
  overdraftLimit: string;
  dailyLimit: string | null;
  monthlyLimit: string | null;
  dailyLimitMax: string | null;
  monthlyLimitMax: string | null;
  timeZone: string;
  dailySpent: string;
  monthlySpent: string;
  dailyRemaining: string | null;
  monthlyRemaining: string | null;
}

function limitUpdate(body: LimitsUpdateBody, key: Exclude<keyof LimitsUpdateBody, 'timeZone'>): LimitUpdate | undefined {
  const value = body[key];
  if (value === undefined) return undefined;
  if (value === null) return { clear: true, amountMinor: 0n };
  try {
    // 0 is a limit like any other (it blocks every outgoing amount).
    return { clear: false, amountMinor: parseAmountMinor(value) };
  } catch {
    throw fieldProblem(`body.${key}`, 'must be a decimal string with at most two decimals, e.g. "250.00", or null');
  }
}

export function toSetAccountLimitsRequest(accountId: string, body: LimitsUpdateBody): SetAccountLimitsRequest {
  return {
    accountId: canonicalUuid(accountId),
    overdraftLimit: limitUpdate(body, 'overdraftLimit'),
    dailyLimit: limitUpdate(body, 'dailyLimit'),
    monthlyLimit: limitUpdate(body, 'monthlyLimit'),
    dailyLimitMax: limitUpdate(body, 'dailyLimitMax'),
    monthlyLimitMax: limitUpdate(body, 'monthlyLimitMax'),
    timeZone: body.timeZone ?? '',
  };
}

function amountOf(money: MoneyMessage | undefined, what: string): string {
  if (!money) throw new UnexpectedUpstreamResponseError(`${what} missing`);
  if (money.amountMinor < 0n) throw new UnexpectedUpstreamResponseError(`${what}: negative amount`);
  return formatAmountMinor(money.amountMinor);
}

function optionalAmountOf(money: MoneyMessage | undefined, what: string): string | null {
  return money === undefined ? null : amountOf(money, what);
}

export function fromAccountLimits(limits: AccountLimits | undefined, what: string): LimitsResource {
  if (!limits || limits.accountId === '') throw new UnexpectedUpstreamResponseError(`${what}: limits missing`);
  return {
    accountId: limits.accountId,
    currency: limits.currency,
    overdraftLimit: amountOf(limits.overdraftLimit, `${what}: overdraftLimit`),
    dailyLimit: optionalAmountOf(limits.dailyLimit, `${what}: dailyLimit`),
    monthlyLimit: optionalAmountOf(limits.monthlyLimit, `${what}: monthlyLimit`),
    dailyLimitMax: optionalAmountOf(limits.dailyLimitMax, `${what}: dailyLimitMax`),
    monthlyLimitMax: optionalAmountOf(limits.monthlyLimitMax, `${what}: monthlyLimitMax`),
    timeZone: limits.timeZone,
    dailySpent: amountOf(limits.dailySpent, `${what}: dailySpent`),
    monthlySpent: amountOf(limits.monthlySpent, `${what}: monthlySpent`),
    dailyRemaining: optionalAmountOf(limits.dailyRemaining, `${what}: dailyRemaining`),
    monthlyRemaining: optionalAmountOf(limits.monthlyRemaining, `${what}: monthlyRemaining`),
  };
}
