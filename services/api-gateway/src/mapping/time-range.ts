import { EDGE_PROBLEMS, ProblemError } from './problems.js';
import { fieldProblem } from './common.js';

// Time bounds of /operations and /summary. Pure.

/**
 * The instants analytics can store and query ([1970-01-01, 2200-01-01)).
 * A bound outside them selects nothing more than the bound at the edge, so it
 * is clamped rather than refused: any RFC 3339 date-time is a valid bound.
 */
export const STORE_TIME_MIN = new Date('1970-01-01T00:00:00.000Z');
export const STORE_TIME_MAX = new Date('2200-01-01T00:00:00.000Z');

/** "…T23:59:60…": a leap second, valid RFC 3339 that Date cannot parse. */
const LEAP_SECOND = /^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:)60(.*)$/;

/**
 * Parses an RFC 3339 date-time the schema already accepted. A leap second
 * (23:59:60) is the instant one second after 23:59:59, as POSIX time counts it.
 */
export function toDate(value: string, field: string): Date {
  const leap = LEAP_SECOND.exec(value);
  const date = leap ? new Date(new Date(`${leap[1]}59${leap[2]}`).getTime() + 1000) : new Date(value);
  if (Number.isNaN(date.getTime())) throw fieldProblem(field, 'must be an RFC 3339 date-time');
  return date;
}

/** `from` must be earlier than `to`: a rule across two parameters, so 422 (the request matches the schema). */
export function checkOrder(from: Date | undefined, to: Date | undefined): void {
  if (from && to && from.getTime() >= to.getTime()) {
    throw new ProblemError(EDGE_PROBLEMS.invalidTimeRange, 'query.from must be earlier than query.to.', {
      errors: [{ field: 'query.to', message: 'must be later than query.from' }],
    });
  }
}

export interface ClampedRange {
  from?: Date;
  to?: Date;
  /** True when nothing storable lies inside the range: no need to ask analytics. */
  empty: boolean;
}

/** Narrows [from, to) to what analytics can store (see STORE_TIME_MIN/MAX). */
export function clampToStore(from: Date | undefined, to: Date | undefined): ClampedRange {
  const min = STORE_TIME_MIN.getTime();
  const max = STORE_TIME_MAX.getTime();
  const fromMs = from === undefined ? undefined : Math.min(Math.max(from.getTime(), min), max);
  const toMs = to === undefined ? undefined : Math.min(Math.max(to.getTime(), min), max);
  const empty = (fromMs ?? min) >= (toMs ?? max);
  const range: ClampedRange = { empty };
  if (fromMs !== undefined) range.from = new Date(fromMs);
  if (toMs !== undefined) range.to = new Date(toMs);
  return range;
}

/** A summary spans at most 366 days by day and 10 years by month (openapi.yaml): 422 beyond. */
export function checkSummarySpan(from: Date, to: Date, granularity: 'day' | 'month', daysMax: number, yearsMax: number): void {
  const limit = new Date(from.getTime());
  if (granularity === 'day') limit.setUTCDate(limit.getUTCDate() + daysMax);
  else limit.setUTCFullYear(limit.getUTCFullYear() + yearsMax);
  if (to.getTime() <= limit.getTime()) return;
  const message =
    granularity === 'day'
      ? `must be at most ${daysMax} days after query.from for granularity=day`
      : `must be at most ${yearsMax} years after query.from for granularity=month`;
  throw new ProblemError(EDGE_PROBLEMS.timeRangeTooLong, `query.to ${message}.`, { errors: [{ field: 'query.to', message }] });
}
