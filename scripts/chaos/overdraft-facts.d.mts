// Types for scripts/chaos/overdraft-facts.mjs, so its unit tests are type-checked.
import type { Op, Violation } from './model.d.mts';

export interface OverdraftAccountFacts {
  accountId: string;
  balanceMinor: bigint;
  pendingOutMinor: bigint;
  overdraftMinor: bigint;
  forcedDebtMinor: bigint;
  /** The lowest balance_after of the account's ledger entries (0 without any). */
  lowestMinor: bigint;
  entriesBelowZero: number;
}
export interface ForcedReversalRow {
  id: string;
  transferId: string;
  fromAccountId: string;
  amountMinor: bigint;
  forcedDebtMinor: bigint;
  initiatedBy: string;
  idempotencyKey: string;
}
export interface OverdraftFacts {
  accounts: OverdraftAccountFacts[];
  forced: ForcedReversalRow[];
}
export interface ForcedReversalPicker {
  saw(transfer: Op, reversal?: Op): void;
  pick(): Op | undefined;
  putBack(transfer: Op): void;
  readonly picked: number;
}
export declare const OVERDRAFT_PLANS: string[];
export declare const OVERDRAFT_SENDER_SHARE: number;
export declare const FORCED_REVERSAL_SHARE: number;
export declare const FORCED_REVERSALS_MAX: number;
export declare const FORCED_LOOKS_MAX: number;
export declare function needsForce(balance: { available?: unknown; overdraftLimit?: unknown } | undefined, amountMinor: bigint): boolean;
export declare function planOverdrafts(accounts: string[]): Map<string, bigint>;
export declare function setOverdrafts(options: {
  baseUrl: string;
  plans: Map<string, bigint>;
  adminHeaders: () => Promise<Record<string, string> | undefined>;
}): Promise<void>;
export declare function createForcedReversalPicker(options: { overdraftAccounts: string[]; max?: number; candidatesMax?: number }): ForcedReversalPicker;
export declare function readOverdraftFacts(databaseUrl: string): Promise<OverdraftFacts>;
export declare function checkOverdraftFacts(
  facts: OverdraftFacts,
  ops: Op[],
  plans: Map<string, bigint>,
): {
  violations: Violation[];
  counts: {
    overdraftAccounts: number;
    entriesBelowZero: number;
    lowest: Record<string, string>;
    overdraftRefusals: number;
    forcedAsked: number;
    forced: number;
    forcedDebtMinor: bigint;
  };
};
