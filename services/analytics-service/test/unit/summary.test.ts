import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/domain/errors.js';
import { buildSummary, MixedCurrencyError, normalizeSummaryQuery, periodStartMs, periodStarts, type SummaryAggregate } from '../../src/domain/summary.js';

const accountId = '123e4567-e89b-12d3-a456-426614174000';
const utc = (iso: string) => Date.parse(iso);

describe('normalizeSummaryQuery', () => {
  it('requires both bounds and from < to', () => {
    expect(() => normalizeSummaryQuery({ accountId, toMs: 1, granularity: 'day' })).toThrow(/from_time: is required/);
    expect(() => normalizeSummaryQuery({ accountId, fromMs: 1, granularity: 'day' })).toThrow(/to_time: is required/);
    expect(() => normalizeSummaryQuery({ accountId, fromMs: 5, toMs: 5, granularity: 'day' })).toThrow(InvalidArgumentError);
  });

  it('allows at most 366 days by day and 10 years by month', () => {
    const from = utc('2024-01-01T00:00:00Z');
    expect(normalizeSummaryQuery({ accountId, fromMs: from, toMs: from + 366 * 86_400_000, granularity: 'day' }).granularity).toBe('day');
    expect(() => normalizeSummaryQuery({ accountId, fromMs: from, toMs: from + 366 * 86_400_000 + 1, granularity: 'day' })).toThrow(/366 days/);
    expect(normalizeSummaryQuery({ accountId, fromMs: from, toMs: utc('2034-01-01T00:00:00Z'), granularity: 'month' }).toMs).toBe(utc('2034-01-01T00:00:00Z'));
    expect(() => normalizeSummaryQuery({ accountId, fromMs: from, toMs: utc('2034-01-01T00:00:00.001Z'), granularity: 'month' })).toThrow(/10 years/);
  });

  it('rejects an account id that is not a UUID', () => {
    expect(() => normalizeSummaryQuery({ accountId: 'x', fromMs: 1, toMs: 2, granularity: 'day' })).toThrow(/account_id/);
  });
});

describe('periods', () => {
  it('starts days and months at UTC midnight', () => {
    expect(periodStartMs(utc('2025-03-15T23:59:59.999Z'), 'day')).toBe(utc('2025-03-15T00:00:00Z'));
    expect(periodStartMs(utc('2025-03-15T23:59:59.999Z'), 'month')).toBe(utc('2025-03-01T00:00:00Z'));
  });

  it('lists every period overlapping [from, to), including partial first and last ones', () => {
    expect(periodStarts(utc('2025-01-30T12:00:00Z'), utc('2025-02-02T00:00:00Z'), 'day')).toEqual([
      utc('2025-01-30T00:00:00Z'),
      utc('2025-01-31T00:00:00Z'),
      utc('2025-02-01T00:00:00Z'),
    ]);
    expect(periodStarts(utc('2024-11-15T00:00:00Z'), utc('2025-02-01T00:00:01Z'), 'month')).toEqual([
      utc('2024-11-01T00:00:00Z'),
      utc('2024-12-01T00:00:00Z'),
      utc('2025-01-01T00:00:00Z'),
      utc('2025-02-01T00:00:00Z'),
    ]);
  });

  it('never lays out more buckets than the range limits allow', () => {
    expect(periodStarts(utc('2024-01-01T12:00:00Z'), utc('2024-01-01T12:00:00Z') + 366 * 86_400_000, 'day')).toHaveLength(367);
    expect(() => periodStarts(0, 400 * 86_400_000, 'day')).toThrow(/bucket limit/);
  });
});

describe('buildSummary', () => {
  const query = normalizeSummaryQuery({ accountId, fromMs: utc('2025-01-01T00:00:00Z'), toMs: utc('2025-01-04T00:00:00Z'), granularity: 'day' });
  const row = (day: string, inMinor: bigint, outMinor: bigint, countIn: bigint, countOut: bigint, currency = 'USD'): SummaryAggregate => ({
    periodStartMs: utc(`${day}T00:00:00Z`),
    currency,
    totalInMinor: inMinor,
    totalOutMinor: outMinor,
    countIn,
    countOut,
  });

  it('fills empty periods with zeros and adds up exact totals', () => {
    const summary = buildSummary(query, [row('2025-01-01', 1050n, 0n, 2n, 0n), row('2025-01-03', 9_007_199_254_740_993n, 1n, 1n, 1n)]);
    expect(summary.currency).toBe('USD');
    expect(summary.buckets.map((b) => [new Date(b.periodStartMs).toISOString().slice(0, 10), b.totalInMinor, b.totalOutMinor, b.countIn, b.countOut])).toEqual([
      ['2025-01-01', 1050n, 0n, 2n, 0n],
      ['2025-01-02', 0n, 0n, 0n, 0n],
      ['2025-01-03', 9_007_199_254_740_993n, 1n, 1n, 1n],
    ]);
    expect(summary.totalInMinor).toBe(9_007_199_254_740_993n + 1050n);
    expect(summary.totalOutMinor).toBe(1n);
    expect(summary.countIn).toBe(3n);
    expect(summary.countOut).toBe(1n);
  });

  it('reports the wallet currency for an account without operations', () => {
    const summary = buildSummary(query, []);
    expect(summary.currency).toBe('USD');
    expect(summary.buckets).toHaveLength(3);
    expect(summary.totalInMinor).toBe(0n);
  });

  it('refuses mixed currencies, periods outside the range and totals beyond int64', () => {
    expect(() => buildSummary(query, [row('2025-01-01', 1n, 0n, 1n, 0n), row('2025-01-02', 1n, 0n, 1n, 0n, 'EUR')])).toThrow(MixedCurrencyError);
    expect(() => buildSummary(query, [row('2025-02-01', 1n, 0n, 1n, 0n)])).toThrow(/outside the requested range/);
    expect(() => buildSummary(query, [row('2025-01-01', 2n ** 63n, 0n, 1n, 0n)])).toThrow(/int64/);
  });
});
