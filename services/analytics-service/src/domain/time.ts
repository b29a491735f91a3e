// Exact timestamps: events carry RFC 3339 strings that may hold microseconds
// (PostgreSQL precision). A JS Date keeps only milliseconds, so inside the
// service a point in time is a bigint of microseconds since the Unix epoch.

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Earliest and latest instants the store's DateTime64(6) column represents. */
export const MIN_MICROS = 0n; // 1970-01-01
export const MAX_MICROS = 7_258_118_400_000_000n - 1n; // before 2200-01-01

export class TimestampFormatError extends Error {
  constructor(readonly input: string) {
    super(`"${input}" is not an RFC 3339 date-time between 1970 and 2199`);
    this.name = 'TimestampFormatError';
  }
}

/** Parses an RFC 3339 date-time into microseconds (UTC); digits past the 6th are truncated. */
export function parseTimestampMicros(input: string): bigint {
  const m = RFC3339.exec(input);
  if (!m) throw new TimestampFormatError(input);
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) {
    throw new TimestampFormatError(input);
  }
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const oh = Number(zone.slice(1, 3));
    const om = Number(zone.slice(4, 6));
    if (oh > 23 || om > 59) throw new TimestampFormatError(input);
    offsetMinutes = sign * (oh * 60 + om);
  }
  // Date.UTC on integers is exact; a leap second (:60) rolls into the next minute.
  const wholeMs = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
  const micros = BigInt(wholeMs) * 1000n + BigInt(frac.padEnd(6, '0').slice(0, 6));
  if (micros < MIN_MICROS || micros > MAX_MICROS) throw new TimestampFormatError(input);
  return micros;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function dateToMicros(date: Date): bigint {
  return BigInt(date.getTime()) * 1000n;
}

/** Truncates to milliseconds: the precision of google.protobuf.Timestamp as ts-proto's Date. */
export function microsToDate(micros: bigint): Date {
  const ms = micros >= 0n ? micros / 1000n : (micros - 999n) / 1000n;
  return new Date(Number(ms));
}

/** "2025-11-25T16:44:10.123456Z" */
export function formatMicrosIso(micros: bigint): string {
  const date = microsToDate(micros);
  const fraction = (((micros % 1_000_000n) + 1_000_000n) % 1_000_000n).toString().padStart(6, '0');
  return `${date.toISOString().slice(0, 19)}.${fraction}Z`;
}
