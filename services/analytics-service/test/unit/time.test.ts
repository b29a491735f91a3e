import { describe, expect, it } from 'vitest';
import { dateToMicros, formatMicrosIso, microsToDate, parseTimestampMicros, TimestampFormatError } from '../../src/domain/time.js';

describe('parseTimestampMicros', () => {
  it('keeps microseconds that a Date would lose', () => {
    expect(parseTimestampMicros('2025-11-25T16:44:10.123456Z')).toBe(1_764_089_050_123_456n);
  });

  it('truncates digits past the sixth and pads shorter fractions', () => {
    expect(parseTimestampMicros('2025-11-25T16:44:10.123456789Z')).toBe(1_764_089_050_123_456n);
    expect(parseTimestampMicros('2025-11-25T16:44:10.1Z')).toBe(1_764_089_050_100_000n);
    expect(parseTimestampMicros('2025-11-25T16:44:10Z')).toBe(1_764_089_050_000_000n);
  });

  it('converts offsets to UTC', () => {
    expect(parseTimestampMicros('2025-11-25T18:44:10.5+02:00')).toBe(parseTimestampMicros('2025-11-25T16:44:10.5Z'));
    expect(parseTimestampMicros('2025-11-25T14:14:10-02:30')).toBe(parseTimestampMicros('2025-11-25T16:44:10Z'));
    expect(parseTimestampMicros('2025-11-25 16:44:10z')).toBe(parseTimestampMicros('2025-11-25T16:44:10Z'));
  });

  it.each(['', 'yesterday', '2025-11-25', '2025-13-01T00:00:00Z', '2025-02-30T00:00:00Z', '2025-01-01T24:00:00Z', '2025-01-01T00:00:00', '2025-01-01T00:00:00+25:00', '1969-12-31T23:59:59Z', '2200-01-01T00:00:00Z'])(
    'rejects %j',
    (input) => {
      expect(() => parseTimestampMicros(input)).toThrow(TimestampFormatError);
    },
  );

  it('accepts a leap day and a leap second', () => {
    expect(parseTimestampMicros('2024-02-29T00:00:00Z')).toBe(BigInt(Date.UTC(2024, 1, 29)) * 1000n);
    expect(parseTimestampMicros('2016-12-31T23:59:60Z')).toBe(BigInt(Date.UTC(2017, 0, 1)) * 1000n);
  });
});

describe('micros and dates', () => {
  it('round-trips through ISO text exactly', () => {
    const micros = parseTimestampMicros('2025-11-25T16:44:10.000007Z');
    expect(formatMicrosIso(micros)).toBe('2025-11-25T16:44:10.000007Z');
  });

  it('truncates to milliseconds for a Date and back', () => {
    const micros = parseTimestampMicros('2025-11-25T16:44:10.123999Z');
    expect(microsToDate(micros).toISOString()).toBe('2025-11-25T16:44:10.123Z');
    expect(dateToMicros(new Date('2025-11-25T16:44:10.123Z'))).toBe(1_764_089_050_123_000n);
    expect(microsToDate(-1n).getTime()).toBe(-1);
  });
});
