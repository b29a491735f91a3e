import {
  SummaryGranularity,
  type GetAccountSummaryRequest,
  type GetAccountSummaryResponse,
} from '@wallet/contracts/analytics';
import { formatAmountMinor } from '@wallet/platform';
import { canonicalUuid, fromMoney, toIsoTimestamp, UnexpectedUpstreamResponseError } from './common.js';
import { checkOrder, checkSummarySpan, clampToStore, toDate } from './time-range.js';

export type Granularity = 'day' | 'month';

export interface SummaryQuery {
  from: string;
  to: string;
  granularity: Granularity;
}

/** Longest range per granularity (openapi.yaml: 366 days for day, 10 years for month). */
export const MAX_SUMMARY_DAYS = 366;
export const MAX_SUMMARY_YEARS = 10;

export interface SummaryBucketResource {
  periodStart: string;
  totalIn: string;
  totalOut: string;
  countIn: number;
  countOut: number;
}

export interface AccountSummaryResource {
  accountId: string;
  currency: string;
  granularity: Granularity;
  from: string;
  to: string;
  totalIn: string;
  totalOut: string;
  buckets: SummaryBucketResource[];
}

export function toGetAccountSummaryRequest(accountId: string, query: SummaryQuery): GetAccountSummaryRequest {
  const from = toDate(query.from, 'query.from');
  const to = toDate(query.to, 'query.to');
  checkOrder(from, to);
  checkSummarySpan(from, to, query.granularity, MAX_SUMMARY_DAYS, MAX_SUMMARY_YEARS);
  const range = clampToStore(from, to);
  return {
    accountId: canonicalUuid(accountId),
    fromTime: range.from,
    toTime: range.to,
    granularity: query.granularity === 'day' ? SummaryGranularity.SUMMARY_GRANULARITY_DAY : SummaryGranularity.SUMMARY_GRANULARITY_MONTH,
  };
}

/** The answer for a range analytics cannot hold anything in (see selectsNothing). */
export function emptySummaryResponse(request: GetAccountSummaryRequest): GetAccountSummaryResponse {
  return { accountId: request.accountId, currencyCode: '', buckets: [], totalIn: undefined, totalOut: undefined };
}

function toCount(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UnexpectedUpstreamResponseError(`${what}: count ${value} out of range`);
  }
  return Number(value);
}

export function fromGetAccountSummaryResponse(
  response: GetAccountSummaryResponse,
  request: GetAccountSummaryRequest,
  query: SummaryQuery,
  defaultCurrency: string,
): AccountSummaryResource {
  // An account without operations has no totals yet: zero in its currency.
  const zero = (money: { amountMinor: bigint; currencyCode: string } | undefined) =>
    money ? fromMoney(money, 'GetAccountSummary').amount : formatAmountMinor(0n);
  return {
    accountId: response.accountId || request.accountId,
    currency: response.currencyCode || defaultCurrency,
    granularity: query.granularity,
    // The caller's own bounds, not the ones clamped to what analytics stores.
    from: toDate(query.from, 'query.from').toISOString(),
    to: toDate(query.to, 'query.to').toISOString(),
    totalIn: zero(response.totalIn),
    totalOut: zero(response.totalOut),
    buckets: response.buckets.map((bucket) => ({
      periodStart: toIsoTimestamp(bucket.periodStart, 'GetAccountSummary bucket'),
      totalIn: zero(bucket.totalIn),
      totalOut: zero(bucket.totalOut),
      countIn: toCount(bucket.countIn, 'GetAccountSummary'),
      countOut: toCount(bucket.countOut, 'GetAccountSummary'),
    })),
  };
}
