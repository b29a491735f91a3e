// Per-account totals in and out, bucketed by UTC day or month. Pure: the
// store returns one aggregate row per (period, currency); this module checks
// the range, lays out every period (empty ones included, so a chart needs no
// gap filling) and adds up exact bigint minor units.
import { InvalidArgumentError } from './errors.js';
import { checkRange, normalizeAccountId } from './query.js';

export type Granularity = 'day' | 'month';

export const DAY_RANGE_DAYS_MAX = 366;
export const MONTH_RANGE_YEARS_MAX = 10;
const DAY_MS = 86_400_000;
/** Money in proto is int64: totals beyond it cannot be represented. */
const INT64_MAX = 2n ** 63n - 1n;
/** Currency reported when the account has no operation in the range. */
export const WALLET_CURRENCY = 'USD';

export interface SummaryQuery {
  accountId: string;
  fromMs: number;
  toMs: number;
  granularity: Granularity;
}

export function normalizeSummaryQuery(input: { accountId: string; fromMs?: number; toMs?: number; granularity: Granularity }): SummaryQuery {
  const accountId = normalizeAccountId(input.accountId);
  checkRange(
    input.fromMs === undefined ? undefined : BigInt(input.fromMs) * 1000n,
    input.toMs === undefined ? undefined : BigInt(input.toMs) * 1000n,
    true,
  );
  const fromMs = input.fromMs as number;
  const toMs = input.toMs as number;
  if (input.granularity === 'day' && toMs - fromMs > DAY_RANGE_DAYS_MAX * DAY_MS) {
    throw new InvalidArgumentError('to_time', `at most ${DAY_RANGE_DAYS_MAX} days after from_time for day granularity`);
  }
  if (input.granularity === 'month' && toMs > addUtcYears(fromMs, MONTH_RANGE_YEARS_MAX)) {
    throw new InvalidArgumentError('to_time', `at most ${MONTH_RANGE_YEARS_MAX} years after from_time for month granularity`);
  }
  return { accountId, fromMs, toMs, granularity: input.granularity };
}

function addUtcYears(ms: number, years: number): number {
  const d = new Date(ms);
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.getTime();
}

/** Start (UTC) of the day or month containing ms. */
export function periodStartMs(ms: number, granularity: Granularity): number {
  const d = new Date(ms);
  return granularity === 'day'
    ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate())
    : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function nextPeriodMs(startMs: number, granularity: Granularity): number {
  if (granularity === 'day') return startMs + DAY_MS;
  const d = new Date(startMs);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Every period start overlapping [fromMs, toMs), ascending; bounded by the range limits. */
export function periodStarts(fromMs: number, toMs: number, granularity: Granularity): number[] {
  const starts: number[] = [];
  for (let start = periodStartMs(fromMs, granularity); start < toMs; start = nextPeriodMs(start, granularity)) {
    starts.push(start);
    if (starts.length > DAY_RANGE_DAYS_MAX + 1) throw new Error('summary range exceeds the bucket limit');
  }
  return starts;
}

export interface SummaryAggregate {
  periodStartMs: number;
  currency: string;
  totalInMinor: bigint;
  totalOutMinor: bigint;
  countIn: bigint;
  countOut: bigint;
}

export interface SummaryBucketTotals {
  periodStartMs: number;
  totalInMinor: bigint;
  totalOutMinor: bigint;
  countIn: bigint;
  countOut: bigint;
}

export interface AccountSummary {
  accountId: string;
  currency: string;
  buckets: SummaryBucketTotals[];
  totalInMinor: bigint;
  totalOutMinor: bigint;
  countIn: bigint;
  countOut: bigint;
}

/** Accounts hold one currency; rows in two would make a single total meaningless. */
export class MixedCurrencyError extends Error {
  constructor(readonly currencies: string[]) {
    super(`account has operations in several currencies: ${currencies.join(', ')}`);
    this.name = 'MixedCurrencyError';
  }
}

export function buildSummary(query: SummaryQuery, aggregates: readonly SummaryAggregate[]): AccountSummary {
  const currencies = [...new Set(aggregates.map((a) => a.currency))];
  if (currencies.length > 1) throw new MixedCurrencyError(currencies);
  const buckets = new Map<number, SummaryBucketTotals>();
  for (const start of periodStarts(query.fromMs, query.toMs, query.granularity)) {
    buckets.set(start, { periodStartMs: start, totalInMinor: 0n, totalOutMinor: 0n, countIn: 0n, countOut: 0n });
  }
  const summary: AccountSummary = {
    accountId: query.accountId,
    currency: currencies[0] ?? WALLET_CURRENCY,
    buckets: [],
    totalInMinor: 0n,
    totalOutMinor: 0n,
    countIn: 0n,
    countOut: 0n,
  };
  for (const row of aggregates) {
    const bucket = buckets.get(row.periodStartMs);
    if (!bucket) throw new Error(`aggregate period ${new Date(row.periodStartMs).toISOString()} is outside the requested range`);
    bucket.totalInMinor += row.totalInMinor;
    bucket.totalOutMinor += row.totalOutMinor;
    bucket.countIn += row.countIn;
    bucket.countOut += row.countOut;
    summary.totalInMinor += row.totalInMinor;
    summary.totalOutMinor += row.totalOutMinor;
    summary.countIn += row.countIn;
    summary.countOut += row.countOut;
  }
  if (summary.totalInMinor > INT64_MAX || summary.totalOutMinor > INT64_MAX) {
    throw new Error('summary total exceeds int64 minor units');
  }
  summary.buckets = [...buckets.values()];
  return summary;
}
