// History reads in front of the store: pages of the accounts this replica
// writes come from the page cache (./history-cache.ts), and identical reads in
// flight at once share one store query (16 readers of one popular page cost
// one query, not 16: embedded chDB runs parameterized queries one at a time).
// Sharing follows the cache's rules: only for cacheable accounts, and never a
// read that an insert made stale while it ran (a later request must see what
// was stored before it arrived).
import type { OperationsQuery } from '../domain/query.js';
import type { SummaryAggregate, SummaryQuery } from '../domain/summary.js';
import type { OperationsPage } from '../store/operations-store.js';
import { isFirstPage } from './first-page-batcher.js';
import type { CacheTicket, HistoryCache } from './history-cache.js';

export interface HistoryStore {
  listOperations(query: OperationsQuery): Promise<OperationsPage>;
  summarize(query: SummaryQuery): Promise<SummaryAggregate[]>;
}

export interface HistoryReaderMetrics {
  /** Served from the cache. */
  hits: { inc(): void };
  /** Read from the store (cache off, account not cacheable, or not cached yet). */
  misses: { inc(): void };
  /** Joined an identical store read already in flight. */
  shared: { inc(): void };
}

/** Every part of the query that changes the page: account, filters, size and cursor. */
export function pageKey(query: OperationsQuery): string {
  const { filter, after } = query;
  return [
    filter.accountId,
    filter.types.join(','),
    filter.fromMicros?.toString() ?? '',
    filter.toMicros?.toString() ?? '',
    String(query.pageSize),
    after ? `${after.createdAtMicros.toString()}/${after.eventId}` : '',
  ].join('|');
}

interface InFlight {
  ticket: CacheTicket;
  page: Promise<OperationsPage>;
}

export class HistoryReader implements HistoryStore {
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    private readonly store: HistoryStore,
    private readonly cache: HistoryCache,
    private readonly metrics: HistoryReaderMetrics,
    /** Reads unfiltered first pages in batches (./first-page-batcher.ts); none = one query per page. */
    private readonly batcher?: { read(query: OperationsQuery): Promise<OperationsPage> },
  ) {}

  /** Pages are shared between callers: treat them as read-only. */
  listOperations(query: OperationsQuery): Promise<OperationsPage> {
    const key = pageKey(query);
    const cached = this.cache.get(key);
    if (cached) {
      this.metrics.hits.inc();
      return Promise.resolve(cached);
    }
    const running = this.inFlight.get(key);
    if (running && !running.ticket.stale) {
      this.metrics.shared.inc();
      return running.page;
    }
    this.metrics.misses.inc();
    const ticket = this.cache.begin(query.filter.accountId, key);
    if (!ticket) return this.read(query);
    const page = this.read(query).then(
      (result) => {
        this.cache.finish(ticket, result);
        return result;
      },
      (error: unknown) => {
        this.cache.finish(ticket, undefined);
        throw error;
      },
    );
    this.inFlight.set(key, { ticket, page });
    const done = () => {
      if (this.inFlight.get(key)?.page === page) this.inFlight.delete(key);
    };
    page.then(done, done);
    return page;
  }

  private read(query: OperationsQuery): Promise<OperationsPage> {
    return this.batcher && isFirstPage(query) ? this.batcher.read(query) : this.store.listOperations(query);
  }

  summarize(query: SummaryQuery): Promise<SummaryAggregate[]> {
    return this.store.summarize(query);
  }
}
