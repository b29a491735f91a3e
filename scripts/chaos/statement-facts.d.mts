// Types for scripts/chaos/statement-facts.mjs, so its unit tests are type-checked.
import type { Op, Violation } from './model.d.mts';

export interface StatementEntry {
  entryId: string;
  createdAt: string;
  type: string;
  amount: string;
  balance: string;
  referenceId: string;
  description: string;
  counterpartyAccountId?: string;
}
export interface Statement {
  accountId: string;
  currency: string;
  from: string;
  to: string;
  openingBalance: string;
  entries: StatementEntry[];
  closingBalance: string;
  totalIn: string;
  totalOut: string;
  entryCount: number;
}
export interface LedgerVerificationPage {
  ok: boolean;
  accountsChecked: number;
  entriesChecked: number;
  firstBreak?: { accountId: string; entryId: string; reason: string };
  next?: string;
}
export declare function parseSignedMinor(amount: string): bigint;
export declare function expectedEntries(ops: Iterable<Op>): Map<string, Map<string, number>>;
export declare function checkStatement(input: {
  accountId: string;
  statement: Statement;
  postedMinor: bigint;
  modelMinor: bigint;
  openingMinor: bigint;
  expected?: Map<string, number>;
}): Violation[];
export declare function checkBalanceAt(input: { accountId: string; label: string; body: { balance: string; at: string }; wantMinor: bigint }): Violation[];
export declare function checkLedgerVerification(pages: LedgerVerificationPage[], accountsMin: number): Violation[];
export declare function readStatementFacts(options: {
  baseUrl: string;
  accounts: string[];
  auth: { headersFor: (accountId: string) => Record<string, string> };
  adminHeaders: Record<string, string> | undefined;
  fromIso: string;
  initialMinor: Map<string, bigint>;
  modelMinor: Map<string, bigint>;
  ops: Op[];
}): Promise<{ violations: Violation[]; statements: number; statementEntries: number; verifiedAccounts: number; verifiedEntries: number }>;
