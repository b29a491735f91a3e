// First pages asked for while a read runs are read together in one batch; a
// lone request is read at once, alone; failures reach every waiter.
import { describe, expect, it } from 'vitest';
import { FirstPageBatcher, isFirstPage } from '../../src/app/first-page-batcher.js';
import { normalizeOperationsQuery } from '../../src/domain/query.js';
import type { OperationsPage } from '../../src/store/operations-store.js';

const account = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
const first = (n: number, pageSize = 20) => normalizeOperationsQuery({ accountId: account(n), pageSize, pageToken: '', types: [] });
const pageOf = (accountId: string): OperationsPage => ({ operations: [], next: { createdAtMicros: 1n, eventId: accountId } });

/** A store whose reads stay pending until released; records what was asked. */
function pendingStore() {
  const calls: { kind: 'single' | 'batch'; accounts: string[]; pageSize: number; release: (error?: Error) => void }[] = [];
  const store = {
    listOperations: (query: ReturnType<typeof first>) =>
      new Promise<OperationsPage>((resolve, reject) => {
        calls.push({ kind: 'single', accounts: [query.filter.accountId], pageSize: query.pageSize, release: (e) => (e ? reject(e) : resolve(pageOf(query.filter.accountId))) });
      }),
    listFirstPages: (accountIds: readonly string[], pageSize: number) =>
      new Promise<Map<string, OperationsPage>>((resolve, reject) => {
        calls.push({ kind: 'batch', accounts: [...accountIds], pageSize, release: (e) => (e ? reject(e) : resolve(new Map(accountIds.map((id) => [id, pageOf(id)])))) });
      }),
  };
  return { store, calls };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('FirstPageBatcher', () => {
  it('reads a lone request at once and alone, then the requests that came meanwhile in one batch per page size', async () => {
    const { store, calls } = pendingStore();
    const batcher = new FirstPageBatcher(store, 3);
    const lone = batcher.read(first(1));
    expect(calls.map((c) => c.kind)).toEqual(['single']);
    const waiting = [batcher.read(first(2)), batcher.read(first(3)), batcher.read(first(2)), batcher.read(first(4)), batcher.read(first(5)), batcher.read(first(6, 5))];
    calls[0]!.release();
    expect((await lone).next?.eventId).toBe(account(1));
    await flush();
    expect(calls[1]).toMatchObject({ kind: 'batch', accounts: [account(2), account(3), account(4)], pageSize: 20 });
    calls[1]!.release();
    await flush();
    expect(calls[2]).toMatchObject({ kind: 'single', accounts: [account(5)] });
    calls[2]!.release();
    await flush();
    expect(calls[3]).toMatchObject({ kind: 'single', accounts: [account(6)], pageSize: 5 });
    calls[3]!.release();
    const pages = await Promise.all(waiting);
    expect(pages.map((p) => p.next?.eventId)).toEqual([2, 3, 2, 4, 5, 6].map(account));
  });

  it('fails every request of a failed batch, and keeps serving the next ones', async () => {
    const { store, calls } = pendingStore();
    const batcher = new FirstPageBatcher(store, 8);
    const lone = batcher.read(first(1));
    const failing = [batcher.read(first(2)), batcher.read(first(3))];
    calls[0]!.release();
    await lone;
    await flush();
    calls[1]!.release(new Error('store down'));
    for (const read of failing) await expect(read).rejects.toThrow('store down');
    const after = batcher.read(first(4));
    calls[2]!.release();
    expect((await after).next?.eventId).toBe(account(4));
  });

  it('batches only unfiltered first pages', () => {
    expect(isFirstPage(first(1))).toBe(true);
    expect(isFirstPage(normalizeOperationsQuery({ accountId: account(1), pageSize: 20, pageToken: '', types: ['topup'] }))).toBe(false);
    expect(isFirstPage(normalizeOperationsQuery({ accountId: account(1), pageSize: 20, pageToken: '', types: [], fromMicros: 1n }))).toBe(false);
    expect(isFirstPage({ ...first(1), after: { createdAtMicros: 1n, eventId: account(2) } })).toBe(false);
  });
});
