// Types for scripts/chaos/limit-facts.mjs, so its unit tests are type-checked.
import type { Op, Violation } from './model.d.mts';

export interface LimitPlan {
  dailyLimit?: string;
  monthlyLimit?: string;
  timeZone?: string;
}
/** One customer account's spending counters next to what its windows add up to (SQL). */
export interface SpendingCounters {
  accountId: string;
  timeZone: string;
  dailyLimitMinor: bigint | null;
  monthlyLimitMinor: bigint | null;
  spentDay: string | null;
  spentDayMinor: bigint;
  spentMonth: string | null;
  spentMonthMinor: bigint;
  daySumMinor: bigint;
  monthSumMinor: bigint;
}
export declare const LIMIT_PLANS: LimitPlan[];
export declare function planLimits(accounts: string[]): Map<string, LimitPlan>;
export declare function setLimits(options: {
  baseUrl: string;
  plans: Map<string, LimitPlan>;
  auth: { headersFor: (accountId: string) => Record<string, string> };
}): Promise<Map<string, unknown>>;
export declare function readLimitFacts(databaseUrl: string): Promise<SpendingCounters[]>;
export declare function checkLimitFacts(counters: SpendingCounters[], plans: Map<string, LimitPlan>): Violation[];
export declare function checkLimitRefusals(ops: Op[], plans: Map<string, unknown>, overdrafts?: Map<string, unknown>): { violations: Violation[]; refusals: Map<string, number> };
