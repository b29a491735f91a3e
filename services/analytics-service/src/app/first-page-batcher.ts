// Unfiltered first pages that miss the cache are read in batches: while one
// read runs, the pages asked for meanwhile wait and are then read together in
// two store queries (OperationsStore.listFirstPages). Nothing waits when idle:
// a lone request is read at once, alone. Under load the batches grow by
// themselves, and each page costs a fraction of a single read (embedded chDB
// pays ~4 ms of planning per query whatever it reads).
import type { OperationsQuery } from '../domain/query.js';
import type { OperationsPage } from '../store/operations-store.js';

export interface FirstPagesStore {
  listOperations(query: OperationsQuery): Promise<OperationsPage>;
  listFirstPages(accountIds: readonly string[], pageSize: number): Promise<Map<string, OperationsPage>>;
}

interface Waiter {
  query: OperationsQuery;
  resolve: (page: OperationsPage) => void;
  reject: (error: unknown) => void;
}

/** An unfiltered first page: the only kind read in batches. */
export function isFirstPage(query: OperationsQuery): boolean {
  const { filter } = query;
  return !query.after && filter.types.length === 0 && filter.fromMicros === undefined && filter.toMicros === undefined;
}

export class FirstPageBatcher {
  private waiting: Waiter[] = [];
  private running = false;

  /** `accountsMax`: accounts per batch (bounds the query's size; the rest wait for the next). */
  constructor(
    private readonly store: FirstPagesStore,
    private readonly accountsMax: number,
  ) {}

  read(query: OperationsQuery): Promise<OperationsPage> {
    return new Promise<OperationsPage>((resolve, reject) => {
      this.waiting.push({ query, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) await this.runBatch(this.takeBatch());
    } finally {
      this.running = false;
    }
  }

  /** Up to accountsMax distinct accounts of one page size, in arrival order. */
  private takeBatch(): Waiter[] {
    const pageSize = this.waiting[0]!.query.pageSize;
    const accounts = new Set<string>();
    const batch: Waiter[] = [];
    const rest: Waiter[] = [];
    for (const waiter of this.waiting) {
      const accountId = waiter.query.filter.accountId;
      const fits = waiter.query.pageSize === pageSize && (accounts.has(accountId) || accounts.size < this.accountsMax);
      if (fits) accounts.add(accountId);
      (fits ? batch : rest).push(waiter);
    }
    this.waiting = rest;
    return batch;
  }

  private async runBatch(batch: Waiter[]): Promise<void> {
    const accountIds = [...new Set(batch.map((w) => w.query.filter.accountId))];
    try {
      if (accountIds.length === 1) {
        const page = await this.store.listOperations(batch[0]!.query);
        for (const waiter of batch) waiter.resolve(page);
        return;
      }
      const pages = await this.store.listFirstPages(accountIds, batch[0]!.query.pageSize);
      for (const waiter of batch) waiter.resolve(pages.get(waiter.query.filter.accountId) ?? { operations: [] });
    } catch (error) {
      for (const waiter of batch) waiter.reject(error);
    }
  }
}
