// The reader in front of the store: cache hits, shared in-flight reads, and
// never a shared or cached answer that an insert made stale.
import { describe, expect, it } from 'vitest';
import { HistoryCache } from '../../src/app/history-cache.js';
import { HistoryReader, pageKey, type HistoryStore } from '../../src/app/history-reader.js';
import { normalizeOperationsQuery } from '../../src/domain/query.js';
import type { OperationsPage } from '../../src/store/operations-store.js';

const ACCOUNT = '5b0d8f7e-6a43-4d3c-9a51-1f2e3d4c5b6a';

/** A store whose reads stay pending until released, counting them. */
function pendingStore() {
  const releases: ((page: OperationsPage) => void)[] = [];
  const store: HistoryStore = {
    listOperations: () => new Promise<OperationsPage>((resolve) => releases.push(resolve)),
    summarize: () => Promise.resolve([]),
  };
  return { store, releases };
}

function counters() {
  const counts = { hits: 0, misses: 0, shared: 0 };
  const counter = (name: keyof typeof counts) => ({ inc: () => (counts[name] += 1) });
  return { counts, metrics: { hits: counter('hits'), misses: counter('misses'), shared: counter('shared') } };
}

function setup(entriesMax = 10) {
  const cache = new HistoryCache({ entriesMax, bytesMax: 1_000_000, handoverMs: 0, partitionOf: () => 0 });
  cache.setAssignment([0], 1);
  const { store, releases } = pendingStore();
  const { counts, metrics } = counters();
  return { cache, releases, counts, reader: new HistoryReader(store, cache, metrics) };
}

const query = (pageToken = '', pageSize = 20) => normalizeOperationsQuery({ accountId: ACCOUNT, pageSize, pageToken, types: [] });
const emptyPage = (): OperationsPage => ({ operations: [] });
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('HistoryReader', () => {
  it('serves a repeated page from the cache after the first store read', async () => {
    const { reader, releases, counts } = setup();
    const first = reader.listOperations(query());
    releases[0]!(emptyPage());
    await first;
    await reader.listOperations(query());
    expect(counts).toEqual({ hits: 1, misses: 1, shared: 0 });
    expect(releases).toHaveLength(1);
  });

  it('lets identical concurrent reads share one store query, but not different pages', async () => {
    const { reader, releases, counts } = setup();
    const reads = [reader.listOperations(query()), reader.listOperations(query()), reader.listOperations(query('', 5))];
    expect(releases).toHaveLength(2);
    for (const release of releases) release(emptyPage());
    await Promise.all(reads);
    expect(counts).toEqual({ hits: 0, misses: 2, shared: 1 });
  });

  it('does not join, nor cache, a read that an insert for the account made stale', async () => {
    const { reader, releases, cache, counts } = setup();
    const before = reader.listOperations(query());
    cache.invalidate(new Set([ACCOUNT]));
    const after = reader.listOperations(query());
    expect(releases, 'the later request reads again').toHaveLength(2);
    releases[0]!(emptyPage());
    await before;
    await flush();
    expect(cache.get(pageKey(query())), 'the stale read is not cached').toBeUndefined();
    releases[1]!(emptyPage());
    await after;
    expect(cache.get(pageKey(query()))).toBeDefined();
    expect(counts.shared).toBe(0);
  });

  it('reads straight from the store when the cache is off', async () => {
    const { reader, releases, counts } = setup(0);
    const reads = [reader.listOperations(query()), reader.listOperations(query())];
    expect(releases).toHaveLength(2);
    for (const release of releases) release(emptyPage());
    await Promise.all(reads);
    expect(counts).toEqual({ hits: 0, misses: 2, shared: 0 });
  });

  it('keys pages by account, filters, size and cursor', () => {
    const a = normalizeOperationsQuery({ accountId: ACCOUNT, pageSize: 20, pageToken: '', types: ['topup'] });
    const b = normalizeOperationsQuery({ accountId: ACCOUNT, pageSize: 20, pageToken: '', types: [] });
    const c = normalizeOperationsQuery({ accountId: ACCOUNT, pageSize: 20, pageToken: '', types: [], fromMicros: 1n });
    const keys = new Set([a, b, c, query('', 10), { ...b, after: { createdAtMicros: 5n, eventId: ACCOUNT } }].map(pageKey));
    expect(keys.size).toBe(5);
  });
});
