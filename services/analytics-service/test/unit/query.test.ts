import { describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/domain/cursor.js';
import { InvalidArgumentError, InvalidCursorError } from '../../src/domain/errors.js';
import { normalizeOperationsQuery, PAGE_SIZE_DEFAULT } from '../../src/domain/query.js';

const accountId = '123e4567-e89b-12d3-a456-426614174000';
const base = { accountId, pageSize: 0, pageToken: '', types: [] as string[] };

describe('normalizeOperationsQuery', () => {
  it('defaults the page size to 20 and accepts 1-100', () => {
    expect(normalizeOperationsQuery(base).pageSize).toBe(PAGE_SIZE_DEFAULT);
    expect(normalizeOperationsQuery({ ...base, pageSize: 1 }).pageSize).toBe(1);
    expect(normalizeOperationsQuery({ ...base, pageSize: 100 }).pageSize).toBe(100);
  });

  it.each([-1, 101, 1.5, Number.NaN])('rejects page size %s', (pageSize) => {
    expect(() => normalizeOperationsQuery({ ...base, pageSize })).toThrow(InvalidArgumentError);
  });

  it('lowercases the account id and rejects one that is not a UUID', () => {
    expect(normalizeOperationsQuery({ ...base, accountId: accountId.toUpperCase() }).filter.accountId).toBe(accountId);
    expect(() => normalizeOperationsQuery({ ...base, accountId: 'acc-1' })).toThrow(/account_id: must be a UUID/);
  });

  it('sorts and dedupes types and rejects unknown ones', () => {
    expect(normalizeOperationsQuery({ ...base, types: ['transfer_out', 'topup', 'topup'] }).filter.types).toEqual(['topup', 'transfer_out']);
    expect(() => normalizeOperationsQuery({ ...base, types: ['chargeback'] })).toThrow(/types: unknown operation type/);
  });

  it('keeps a valid time range and rejects an empty or out-of-range one', () => {
    const query = normalizeOperationsQuery({ ...base, fromMicros: 10n, toMicros: 20n });
    expect(query.filter).toMatchObject({ fromMicros: 10n, toMicros: 20n });
    expect(() => normalizeOperationsQuery({ ...base, fromMicros: 20n, toMicros: 20n })).toThrow(/to_time: must be after from_time/);
    expect(() => normalizeOperationsQuery({ ...base, fromMicros: -1n })).toThrow(/from_time/);
    expect(() => normalizeOperationsQuery({ ...base, toMicros: 10n ** 18n })).toThrow(/to_time/);
  });

  it('decodes a cursor issued for the same filters and rejects one from other filters', () => {
    const position = { createdAtMicros: 15n, eventId: 'dc0e669c-26b8-4694-a577-015c26493f18' };
    const first = normalizeOperationsQuery({ ...base, types: ['topup'] });
    const token = encodeCursor(position, first.filter);
    expect(normalizeOperationsQuery({ ...base, types: ['topup'], pageToken: token }).after).toEqual(position);
    expect(() => normalizeOperationsQuery({ ...base, pageToken: token })).toThrow(InvalidCursorError);
    expect(() => normalizeOperationsQuery({ ...base, pageToken: 'x'.repeat(600) })).toThrow(/page_token: too long/);
  });
});
