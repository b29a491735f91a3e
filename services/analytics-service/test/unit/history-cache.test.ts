// The history page cache's rules, without I/O: ownership by partition, the
// hand-over hold, invalidation (also of reads in flight), bounds.
import { describe, expect, it } from 'vitest';
import { HistoryCache, estimatePageBytes } from '../../src/app/history-cache.js';
import type { OperationsPage } from '../../src/store/operations-store.js';

const HOLD_MS = 1_000;
/** Accounts named "p<partition>-..." live on that partition. */
const partitionOf = (accountId: string) => Number(/^p(\d+)-/.exec(accountId)![1]);

function setup(overrides: Partial<ConstructorParameters<typeof HistoryCache>[0]> = {}) {
  let nowMs = 0;
  const cache = new HistoryCache({ entriesMax: 100, bytesMax: 1_000_000, handoverMs: HOLD_MS, partitionOf, now: () => nowMs, ...overrides });
  return { cache, advance: (ms: number) => (nowMs += ms) };
}

function page(accountId: string, n = 1): OperationsPage {
  return {
    operations: Array.from({ length: n }, (_, i) => ({
      eventId: `e${i}`,
      accountId,
      type: 'topup' as const,
      createdAtMicros: BigInt(i),
      amountMinor: 1n,
      currency: 'USD',
      counterpartyAccountId: '',
      transferId: '',
      topUpId: 't',
      description: '',
      cardLast4: '4242',
      initiatedBy: '',
      holdId: '',
      direction: '',
      reversalId: '',
      originalTransferId: '',
      forced: false,
      refundId: '',
    })),
  };
}

/** Reads `accountId` through the cache as the reader does: hit, or begin + finish. */
function fill(cache: HistoryCache, accountId: string, key = `${accountId}|first`, result = page(accountId)) {
  const ticket = cache.begin(accountId, key);
  if (ticket) cache.finish(ticket, result);
  return cache.get(key);
}

describe('HistoryCache', () => {
  it('caches nothing before an assignment, nor when off', () => {
    const { cache } = setup();
    expect(fill(cache, 'p0-a')).toBeUndefined();
    const off = setup({ entriesMax: 0 });
    off.cache.setAssignment([0], 2);
    off.advance(HOLD_MS);
    expect(fill(off.cache, 'p0-a')).toBeUndefined();
  });

  it('caches an owned partition only after the hand-over hold, and never a partition owned by another replica', () => {
    const { cache, advance } = setup();
    cache.setAssignment([0], 2);
    expect(fill(cache, 'p0-a'), 'inside the hold').toBeUndefined();
    advance(HOLD_MS);
    expect(fill(cache, 'p0-a')).toBeDefined();
    expect(fill(cache, 'p1-b'), 'partition 1 is not ours').toBeUndefined();
  });

  it('drops the entries of a partition it loses, and of everything when it owns nothing', () => {
    const { cache, advance } = setup();
    cache.setAssignment([0, 1], 2);
    advance(HOLD_MS);
    fill(cache, 'p0-a');
    fill(cache, 'p1-b');
    cache.setAssignment([1], 2);
    expect(cache.get('p0-a|first')).toBeUndefined();
    expect(cache.get('p1-b|first')).toBeDefined();
    cache.clear();
    expect(cache.size).toBe(0);
    cache.setAssignment([1], 2);
    expect(fill(cache, 'p1-b'), 'after clear, a reassigned partition is held again').toBeUndefined();
  });

  it('treats every partition as new when the partition count changes (keys map elsewhere)', () => {
    const { cache, advance } = setup();
    cache.setAssignment([0], 2);
    advance(HOLD_MS);
    fill(cache, 'p0-a');
    cache.setAssignment([0], 3);
    expect(cache.size).toBe(1);
    expect(fill(cache, 'p0-c', 'p0-c|first'), 'held again').toBeUndefined();
  });

  it('invalidate drops every page of the account and nothing else', () => {
    const { cache, advance } = setup();
    cache.setAssignment([0], 1);
    advance(HOLD_MS);
    fill(cache, 'p0-a', 'p0-a|first');
    fill(cache, 'p0-a', 'p0-a|cursor');
    fill(cache, 'p0-b');
    cache.invalidate(new Set(['p0-a']));
    expect(cache.get('p0-a|first')).toBeUndefined();
    expect(cache.get('p0-a|cursor')).toBeUndefined();
    expect(cache.get('p0-b|first')).toBeDefined();
  });

  it('does not store a page read while its account was written (the read may predate the insert)', () => {
    const { cache, advance } = setup();
    cache.setAssignment([0], 1);
    advance(HOLD_MS);
    const ticket = cache.begin('p0-a', 'p0-a|first')!;
    cache.invalidate(new Set(['p0-a']));
    cache.finish(ticket, page('p0-a'));
    expect(cache.get('p0-a|first')).toBeUndefined();
    const other = cache.begin('p0-a', 'p0-a|first')!;
    cache.setAssignment([0], 1);
    cache.finish(other, page('p0-a'));
    expect(cache.get('p0-a|first'), 'assignment changed during the read').toBeUndefined();
  });

  it('keeps at most entriesMax pages and bytesMax bytes, evicting the least recently used', () => {
    const bytes = estimatePageBytes(page('p0-x', 5));
    const { cache, advance } = setup({ entriesMax: 3, bytesMax: bytes * 2 + 1 });
    cache.setAssignment([0], 1);
    advance(HOLD_MS);
    fill(cache, 'p0-a', 'a', page('p0-a', 5));
    fill(cache, 'p0-b', 'b', page('p0-b', 5));
    cache.get('a');
    fill(cache, 'p0-c', 'c', page('p0-c', 5));
    expect(cache.get('b'), 'least recently used').toBeUndefined();
    expect(cache.get('a')).toBeDefined();
    expect(cache.sizeBytes).toBeLessThanOrEqual(bytes * 2 + 1);
    const small = setup({ entriesMax: 2 });
    small.cache.setAssignment([0], 1);
    small.advance(HOLD_MS);
    for (const id of ['p0-a', 'p0-b', 'p0-c']) fill(small.cache, id);
    expect(small.cache.size).toBe(2);
    expect(small.cache.get('p0-a|first')).toBeUndefined();
  });
});
