import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../src/domain/errors.js';
import {
  INSTANT_MAX,
  INSTANT_MIN,
  RunningStatement,
  validateBalanceAtRequest,
  validateStatementRequest,
  type StatementEntryRecord,
} from '../../src/domain/statements.js';

const ACCOUNT = '123E4567-E89B-12D3-A456-426614174000';
const entry = (amountMinor: bigint): StatementEntryRecord => ({
  entryId: 1n,
  createdAt: new Date(0),
  entryType: 'transfer',
  amountMinor,
  referenceId: '',
  counterpartyAccountId: '',
  description: '',
});

describe('RunningStatement', () => {
  it('adds each entry to the running balance from the opening, across chunks, and totals money in and out exactly', () => {
    const running = new RunningStatement(-50n);
    expect(running.add([entry(100n), entry(-30n)]).map((l) => l.balanceAfterMinor)).toEqual([50n, 20n]);
    expect(running.add([entry(9_007_199_254_740_993n)]).map((l) => l.balanceAfterMinor)).toEqual([9_007_199_254_741_013n]);
    expect(running.totals()).toEqual({ closingMinor: 9_007_199_254_741_013n, totalInMinor: 9_007_199_254_741_093n, totalOutMinor: 30n, entryCount: 3 });
  });

  it('closes at the opening when the range holds nothing', () => {
    expect(new RunningStatement(7n).totals()).toEqual({ closingMinor: 7n, totalInMinor: 0n, totalOutMinor: 0n, entryCount: 0 });
  });
});

describe('statement requests', () => {
  const from = new Date('2026-01-01T00:00:00Z');
  const to = new Date('2026-02-01T00:00:00Z');

  it('normalises the account id and caps entries_max at the server maximum (0 = the maximum)', () => {
    expect(validateStatementRequest({ accountId: ACCOUNT, from, to, entriesMax: 0 }, 1_000)).toEqual({ accountId: ACCOUNT.toLowerCase(), from, to, entriesMax: 1_000 });
    expect(validateStatementRequest({ accountId: ACCOUNT, from, to, entriesMax: 5_000 }, 1_000).entriesMax).toBe(1_000);
    expect(validateStatementRequest({ accountId: ACCOUNT, from, to, entriesMax: 10 }, 1_000).entriesMax).toBe(10);
  });

  it('refuses a missing bound, from not before to, a bad account id or a negative entries_max', () => {
    const bad = [
      { accountId: ACCOUNT, from: undefined, to, entriesMax: 0 },
      { accountId: ACCOUNT, from: to, to: from, entriesMax: 0 },
      { accountId: ACCOUNT, from, to: from, entriesMax: 0 },
      { accountId: 'x', from, to, entriesMax: 0 },
      { accountId: ACCOUNT, from, to, entriesMax: -1 },
      { accountId: ACCOUNT, from: new Date(Number.NaN), to, entriesMax: 0 },
    ];
    for (const input of bad) expect(() => validateStatementRequest(input, 10)).toThrow(InvalidArgumentError);
  });

  it('clamps instants outside what PostgreSQL stores (nothing lies beyond them)', () => {
    expect(validateBalanceAtRequest({ accountId: ACCOUNT, at: new Date(-8.64e15) }).at).toEqual(INSTANT_MIN);
    expect(validateBalanceAtRequest({ accountId: ACCOUNT, at: new Date(8.64e15) }).at).toEqual(INSTANT_MAX);
    expect(() => validateBalanceAtRequest({ accountId: ACCOUNT, at: undefined })).toThrow(InvalidArgumentError);
  });
});
