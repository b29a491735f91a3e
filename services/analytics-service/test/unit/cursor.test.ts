import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, type OperationsFilter } from '../../src/domain/cursor.js';
import { InvalidCursorError } from '../../src/domain/errors.js';

const filter: OperationsFilter = { accountId: '123e4567-e89b-12d3-a456-426614174000', types: ['topup', 'transfer_in'], fromMicros: 1n, toMicros: 2_000_000n };
const position = { createdAtMicros: 1_764_089_050_123_456n, eventId: 'dc0e669c-26b8-4694-a577-015c26493f18' };

describe('page cursor', () => {
  it('round-trips the position for the same filters, as a short url-safe token', () => {
    const token = encodeCursor(position, filter);
    expect(token).toMatch(/^[A-Za-z0-9_-]{50}$/);
    expect(decodeCursor(token, filter)).toEqual(position);
  });

  it('treats type order and account id case as the same filters', () => {
    const token = encodeCursor(position, filter);
    expect(decodeCursor(token, { ...filter, accountId: filter.accountId.toUpperCase(), types: ['transfer_in', 'topup'] })).toEqual(position);
  });

  it.each([
    ['another account', { ...filter, accountId: '987e6543-e21b-34d3-c456-426614174999' }],
    ['other types', { ...filter, types: ['topup'] }],
    ['no type filter', { ...filter, types: [] }],
    ['another from', { ...filter, fromMicros: 0n }],
    ['no from', { accountId: filter.accountId, types: filter.types, toMicros: filter.toMicros }],
    ['another to', { ...filter, toMicros: 3_000_000n }],
  ] as [string, OperationsFilter][])('rejects a cursor replayed with %s', (_name, other) => {
    expect(() => decodeCursor(encodeCursor(position, filter), other)).toThrow(InvalidCursorError);
  });

  it('rejects any altered character', () => {
    const token = encodeCursor(position, filter);
    for (let i = 0; i < token.length; i += 1) {
      const replacement = token[i] === 'A' ? 'B' : 'A';
      const tampered = `${token.slice(0, i)}${replacement}${token.slice(i + 1)}`;
      expect(() => decodeCursor(tampered, filter), `position ${i}`).toThrow(InvalidCursorError);
    }
  });

  it.each(['', 'garbage', 'x'.repeat(50), '!'.repeat(50), `${'A'.repeat(49)}=`, Buffer.from('{"t":1}').toString('base64url')])('rejects garbage %j', (token) => {
    expect(() => decodeCursor(token, filter)).toThrow(InvalidCursorError);
  });

  it('rejects a cursor of an unknown version even with a matching hash layout', () => {
    const bytes = Buffer.from(encodeCursor(position, filter), 'base64url');
    bytes.writeUInt8(2, 0);
    expect(() => decodeCursor(bytes.toString('base64url'), filter)).toThrow(/unknown version/);
  });

  it('refuses to encode a position whose id is not a UUID', () => {
    expect(() => encodeCursor({ ...position, eventId: 'nope' }, filter)).toThrow(/not a UUID/);
  });
});
