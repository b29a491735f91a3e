// Balances in time and statements (ADR 0020): request rules and the running
// balance of a statement. Pure: the entries come in from src/db/statements.ts.
// An entry belongs to an instant by its created_at; the balance at an instant
// is the sum of the entries up to it, never the stored balance_after_minor of
// some entry (that follows commit order, which replicas and group commit may
// interleave differently from created_at order).
import { BankError, InvalidArgumentError, type FieldViolation } from './errors.js';
import { isUuid, normalizeUuid } from './ids.js';

/**
 * Instants PostgreSQL and JavaScript both represent; outside, the answer is
 * the same as at the edge (no entry is older or newer), so bounds are clamped.
 */
export const INSTANT_MIN = new Date('0001-01-01T00:00:00.000Z');
export const INSTANT_MAX = new Date('9999-12-31T23:59:59.999Z');

export interface BalanceAtInput {
  accountId: string;
  at: Date | undefined;
}

export interface StatementInput {
  accountId: string;
  from: Date | undefined;
  to: Date | undefined;
  entriesMax: number;
}

/** A statement to read: [from, to), at most entriesMax entries. */
export interface StatementRange {
  accountId: string;
  from: Date;
  to: Date;
  entriesMax: number;
}

/** One ledger entry as a statement shows it (amount signed: negative = money out). */
export interface StatementEntryRecord {
  entryId: bigint;
  createdAt: Date;
  entryType: string;
  amountMinor: bigint;
  referenceId: string;
  counterpartyAccountId: string;
  description: string;
}

export interface StatementLine extends StatementEntryRecord {
  /** Opening balance plus every entry of the statement up to and including this one. */
  balanceAfterMinor: bigint;
}

export interface StatementTotals {
  closingMinor: bigint;
  totalInMinor: bigint;
  totalOutMinor: bigint;
  entryCount: number;
}

function clampInstant(at: Date): Date {
  return new Date(Math.min(Math.max(at.getTime(), INSTANT_MIN.getTime()), INSTANT_MAX.getTime()));
}

function checkInstant(violations: FieldViolation[], field: string, at: Date | undefined): void {
  if (at === undefined) violations.push({ field, description: 'is required' });
  else if (Number.isNaN(at.getTime())) violations.push({ field, description: 'must be a valid timestamp' });
}

function checkAccountId(violations: FieldViolation[], accountId: string): void {
  if (!isUuid(accountId)) violations.push({ field: 'account_id', description: 'must be a UUID' });
}

export function validateBalanceAtRequest(input: BalanceAtInput): { accountId: string; at: Date } {
  const violations: FieldViolation[] = [];
  checkAccountId(violations, input.accountId);
  checkInstant(violations, 'at', input.at);
  if (violations.length > 0 || !input.at) throw new InvalidArgumentError(violations);
  return { accountId: normalizeUuid(input.accountId), at: clampInstant(input.at) };
}

/** serverEntriesMax: the bank's own bound; a request may only ask for fewer. */
export function validateStatementRequest(input: StatementInput, serverEntriesMax: number): StatementRange {
  const violations: FieldViolation[] = [];
  checkAccountId(violations, input.accountId);
  checkInstant(violations, 'from', input.from);
  checkInstant(violations, 'to', input.to);
  if (!Number.isInteger(input.entriesMax) || input.entriesMax < 0) violations.push({ field: 'entries_max', description: 'must be 0 or positive' });
  if (violations.length > 0 || !input.from || !input.to) throw new InvalidArgumentError(violations);
  const from = clampInstant(input.from);
  const to = clampInstant(input.to);
  if (from.getTime() >= to.getTime()) throw new InvalidArgumentError([{ field: 'to', description: 'must be later than from' }]);
  const entriesMax = input.entriesMax === 0 ? serverEntriesMax : Math.min(input.entriesMax, serverEntriesMax);
  return { accountId: normalizeUuid(input.accountId), from, to, entriesMax };
}

/** The range holds more entries than the caller (or the bank) allows: refused before anything is streamed. */
export class StatementTooLargeError extends InvalidArgumentError {
  constructor(readonly entriesMax: number) {
    super([{ field: 'entries_max', description: `the range holds more than ${entriesMax} entries; ask for a shorter range` }]);
    this.metadata.entries_max = String(entriesMax);
  }
}

/**
 * Running balance and totals of a statement, fed chunk by chunk in
 * (created_at, id) order: nothing but the totals is kept between chunks.
 */
export class RunningStatement {
  private balanceMinor: bigint;
  private totalInMinor = 0n;
  private totalOutMinor = 0n;
  private entryCount = 0;

  constructor(readonly openingMinor: bigint) {
    this.balanceMinor = openingMinor;
  }

  add(entries: readonly StatementEntryRecord[]): StatementLine[] {
    return entries.map((entry) => {
      this.balanceMinor += entry.amountMinor;
      if (entry.amountMinor > 0n) this.totalInMinor += entry.amountMinor;
      else this.totalOutMinor -= entry.amountMinor;
      this.entryCount += 1;
      return { ...entry, balanceAfterMinor: this.balanceMinor };
    });
  }

  totals(): StatementTotals {
    return { closingMinor: this.balanceMinor, totalInMinor: this.totalInMinor, totalOutMinor: this.totalOutMinor, entryCount: this.entryCount };
  }
}

/** The reader of a statement stream took longer than the bound to take the next chunk. */
export class StatementReaderTooSlowError extends BankError {
  readonly reason = 'DEADLINE_EXCEEDED';
  constructor(waitMsMax: number) {
    super(`the statement's reader took no chunk for ${waitMsMax} ms; the statement was ended`);
  }
}
