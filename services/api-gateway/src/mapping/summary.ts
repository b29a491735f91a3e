import {
  SummaryGranularity,
  type GetAccountSummaryRequest,
  type GetAccountSummaryResponse,
} from '@wallet/contracts/analytics';
import { formatAmountMinor } from '@wallet/platform';
import { canonicalUuid, fieldProblem, fromMoney, toIsoTimestamp, UnexpectedUpstreamResponseError } from './common.js';
import { checkRange, toDate } from './operations.js';

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
  const fromTime = toDate(query.from, 'query.from');
  const toTime = toDate(query.to, 'query.to');
  checkRange(fromTime, toTime);
  const limit = new Date(fromTime.getTime());
  if (query.granularity === 'day') limit.setUTCDate(limit.getUTCDate() + MAX_SUMMARY_DAYS);
  else limit.setUTCFullYear(limit.getUTCFullYear() + MAX_SUMMARY_YEARS);
  if (toTime.getTime() > limit.getTime()) {
    throw fieldProblem(
      'query.to',
      query.granularity === 'day'
        ? `must be at most ${MAX_SUMMARY_DAYS} days after query.from for granularity=day`
        : `must be at most ${MAX_SUMMARY_YEARS} years after query.from for granularity=month`,
    );
  }
  return {
    accountId: canonicalUuid(accountId),
    fromTime,
    toTime,
    granularity: query.granularity === 'day' ? SummaryGranularity.SUMMARY_GRANULARITY_DAY : SummaryGranularity.SUMMARY_GRANULARITY_MONTH,
  };
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
    from: toIsoTimestamp(request.fromTime, 'GetAccountSummary'),
    to: toIsoTimestamp(request.toTime, 'GetAccountSummary'),
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
