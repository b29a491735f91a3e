import type { GetStatementResponse, StatementEntry, StatementFooter, StatementHeader } from '@wallet/contracts/bank';
import { formatAmountMinor } from '@wallet/platform';
import { stringify } from 'csv-stringify/sync';
import { fromMoney, fromSignedMoney, toIsoTimestamp, UnexpectedUpstreamResponseError } from './common.js';
import { EDGE_PROBLEMS, ProblemError } from './problems.js';

// Statements (ADR 0020): the bank's stream (header, entry chunks, footer) as
// JSON or CSV text, piece by piece, so nothing but one chunk is ever held.
// Money as decimal strings (formatAmountMinor); signed where it may be
// negative (entry amounts, balances). Pure.

export type StatementFormat = 'json' | 'csv' | 'pdf';

export const STATEMENT_MEDIA_TYPES: Readonly<Record<StatementFormat, string>> = {
  json: 'application/json; charset=utf-8',
  csv: 'text/csv; charset=utf-8; header=present',
  pdf: 'application/pdf',
};

export interface StatementHeaderView {
  accountId: string;
  currency: string;
  from: string;
  to: string;
  openingBalance: string;
}

export interface StatementEntryView {
  entryId: string;
  createdAt: string;
  type: string;
  /** Signed: negative = money out. */
  amount: string;
  /** Running balance after this entry: opening + every entry up to it. */
  balance: string;
  referenceId: string;
  counterpartyAccountId?: string;
  description: string;
}

export interface StatementFooterView {
  closingBalance: string;
  totalIn: string;
  totalOut: string;
  entryCount: number;
}

export function fromStatementHeader(header: StatementHeader): StatementHeaderView {
  const opening = fromSignedMoney(header.openingBalance, 'GetStatement opening');
  return {
    accountId: header.accountId,
    currency: header.currency,
    from: toIsoTimestamp(header.from, 'GetStatement from'),
    to: toIsoTimestamp(header.to, 'GetStatement to'),
    openingBalance: opening.amount,
  };
}

export function fromStatementEntry(entry: StatementEntry): StatementEntryView {
  return {
    entryId: entry.entryId.toString(),
    createdAt: toIsoTimestamp(entry.createdAt, 'GetStatement entry'),
    type: entry.entryType,
    amount: formatAmountMinor(entry.amountMinor),
    balance: formatAmountMinor(entry.balanceAfterMinor),
    referenceId: entry.referenceId,
    ...(entry.counterpartyAccountId ? { counterpartyAccountId: entry.counterpartyAccountId } : {}),
    description: entry.description,
  };
}

export function fromStatementFooter(footer: StatementFooter): StatementFooterView {
  return {
    closingBalance: fromSignedMoney(footer.closingBalance, 'GetStatement closing').amount,
    totalIn: fromMoney(footer.totalIn, 'GetStatement totalIn').amount,
    totalOut: fromMoney(footer.totalOut, 'GetStatement totalOut').amount,
    entryCount: Number(footer.entryCount),
  };
}

/** The parts after the header, as views; the footer must come last and exactly once. */
export async function* statementBody(
  parts: AsyncIterator<GetStatementResponse>,
): AsyncGenerator<{ entries: StatementEntryView[] } | { footer: StatementFooterView }, void, undefined> {
  for (;;) {
    const next = await parts.next();
    if (next.done) throw new UnexpectedUpstreamResponseError('GetStatement: the stream ended without a footer');
    const part = next.value.part;
    if (part?.$case === 'entries') yield { entries: part.value.entries.map(fromStatementEntry) };
    else if (part?.$case === 'footer') {
      yield { footer: fromStatementFooter(part.value) };
      return;
    } else throw new UnexpectedUpstreamResponseError(`GetStatement: unexpected ${part?.$case ?? 'empty'} part`);
  }
}

type Body = AsyncIterable<{ entries: StatementEntryView[] } | { footer: StatementFooterView }>;

/** {"accountId",…,"openingBalance","entries":[…],"closingBalance","totalIn","totalOut","entryCount"}, written as it comes. */
export async function* statementJson(header: StatementHeaderView, body: Body): AsyncGenerator<string, void, undefined> {
  yield `${JSON.stringify(header).slice(0, -1)},"entries":[`;
  let first = true;
  for await (const piece of body) {
    if ('entries' in piece) {
      if (piece.entries.length === 0) continue;
      yield `${first ? '' : ','}${piece.entries.map((e) => JSON.stringify(e)).join(',')}`;
      first = false;
    } else {
      yield `],${JSON.stringify(piece.footer).slice(1)}`;
    }
  }
}

export const CSV_COLUMNS = ['created_at', 'type', 'amount', 'balance', 'currency', 'description', 'counterparty_account_id', 'reference_id', 'entry_id'] as const;

/**
 * A spreadsheet runs a cell starting with = + - @ (or a tab / CR) as a formula
 * (CSV injection): free text gets a leading apostrophe. Amounts are ours and
 * only ever "-12.50"-shaped, so they stay as they are.
 */
export function spreadsheetSafe(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

const CSV_OPTIONS = { quoted: true, record_delimiter: 'windows' } as const;

/**
 * RFC 4180: a header row, CRLF line ends, every field quoted (quotes doubled),
 * UTF-8 with a byte order mark so spreadsheets read accents right. The first
 * and last rows carry the opening and closing balance (type opening_balance /
 * closing_balance, no amount), so the file alone reconciles.
 */
export async function* statementCsv(header: StatementHeaderView, body: Body): AsyncGenerator<string, void, undefined> {
  yield stringify([[...CSV_COLUMNS], [header.from, 'opening_balance', '', header.openingBalance, header.currency, '', '', '', '']], { ...CSV_OPTIONS, bom: true });
  for await (const piece of body) {
    if ('entries' in piece) {
      if (piece.entries.length === 0) continue;
      const rows = piece.entries.map((e) => [e.createdAt, e.type, e.amount, e.balance, header.currency, spreadsheetSafe(e.description), e.counterpartyAccountId ?? '', e.referenceId, e.entryId]);
      yield stringify(rows, CSV_OPTIONS);
    } else {
      yield stringify([[header.to, 'closing_balance', '', piece.footer.closingBalance, header.currency, '', '', '', '']], CSV_OPTIONS);
    }
  }
}

/** A statement spans at most daysMax days (GATEWAY_STATEMENT_RANGE_DAYS_MAX): 422 beyond. */
export function checkStatementSpan(from: Date, to: Date, daysMax: number): void {
  if (to.getTime() - from.getTime() <= daysMax * 86_400_000) return;
  const message = `must be at most ${daysMax} days after query.from`;
  throw new ProblemError(EDGE_PROBLEMS.timeRangeTooLong, `query.to ${message}.`, { errors: [{ field: 'query.to', message }] });
}

/** The range holds more entries than GATEWAY_STATEMENT_ENTRIES_MAX (the bank said so before streaming). */
export const STATEMENT_TOO_LARGE = {
  status: 422,
  slug: 'statement-too-large',
  title: 'Statement too large',
  code: 'STATEMENT_TOO_LARGE',
} as const;

export function statementTooLarge(entriesMax: number): ProblemError {
  const message = `the range holds more than ${entriesMax} entries; ask for a shorter range`;
  return new ProblemError(STATEMENT_TOO_LARGE, `${message}.`, { errors: [{ field: 'query.from', message }] });
}

/** attachment; filename="statement-<account>-<from>-<to>.<ext>" (characters a file name takes everywhere). */
export function statementFileName(header: StatementHeaderView, format: StatementFormat): string {
  const day = (iso: string) => iso.slice(0, 10);
  return `statement-${header.accountId}-${day(header.from)}-${day(header.to)}.${format}`;
}
