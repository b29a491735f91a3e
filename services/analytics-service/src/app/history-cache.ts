// In-process cache of history pages, valid only for the accounts this replica
// is the only writer of: those whose Kafka partition its consumer owns (the
// bank keys every event by account id, so one partition holds all of an
// account's events). The consumer tells the cache after every stored batch
// which accounts changed (invalidate) and on every assignment change what it
// owns now (setAssignment). Without these two signals nothing is cached.
//
// Correctness rules (see README "History page cache"):
// - A partition becomes cacheable only `handoverMs` after it was assigned: its
//   previous owner may still be finishing an insert we would never hear of.
// - Losing a partition (or any reassignment) drops its entries at once.
// - A read fills the cache only if no invalidation of its account (and no
//   assignment change) happened while it ran: it may have read the old rows.
// - Bounded by entries and by (estimated) bytes; least recently used goes first.
import type { OperationsPage, StoredOperation } from '../store/operations-store.js';

export interface HistoryCacheOptions {
  /** 0 turns the cache off. */
  entriesMax: number;
  bytesMax: number;
  /** How long a newly assigned partition stays uncached (previous owner's last insert). */
  handoverMs: number;
  /** The partition an account's events are keyed to, in a topic of `partitions` partitions. */
  partitionOf: (accountId: string, partitions: number) => number;
  now?: () => number;
}

/** A read in progress on a cacheable account; `stale` once its account changed meanwhile. */
export interface CacheTicket {
  readonly accountId: string;
  readonly key: string;
  stale: boolean;
}

interface Entry {
  accountId: string;
  page: OperationsPage;
  bytes: number;
}

/** Rough bytes of a page held in memory (strings are UTF-16, plus object overhead). */
export function estimatePageBytes(page: OperationsPage): number {
  const PER_OPERATION = 160;
  let bytes = 64;
  for (const op of page.operations) bytes += PER_OPERATION + 2 * stringChars(op);
  return bytes;
}

function stringChars(op: StoredOperation): number {
  return (
    op.eventId.length + op.accountId.length + op.type.length + op.currency.length + op.counterpartyAccountId.length +
    op.transferId.length + op.topUpId.length + op.description.length + op.cardLast4.length + op.initiatedBy.length +
    op.holdId.length + op.direction.length + op.reversalId.length + op.originalTransferId.length + op.refundId.length
  );
}

export class HistoryCache {
  /** Map order is recency order: the first key is the least recently used. */
  private readonly entries = new Map<string, Entry>();
  private readonly keysByAccount = new Map<string, Set<string>>();
  private readonly readsByAccount = new Map<string, Set<CacheTicket>>();
  /** Owned partition -> when its accounts may be cached (ms). */
  private readonly cacheableFromMs = new Map<number, number>();
  private partitionsTotal = 0;
  private bytes = 0;
  private readonly now: () => number;

  constructor(private readonly options: HistoryCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.entriesMax > 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  /**
   * The consumer's whole new assignment, with the topic's partition count (needed to map an
   * account to its partition). Partitions kept keep their entries and their cacheable time;
   * the others' entries go, and in-flight reads may not fill (ownership moved under them).
   */
  setAssignment(partitions: readonly number[], partitionsTotal: number): void {
    const sameTopic = partitionsTotal === this.partitionsTotal;
    const heldUntilMs = this.now() + this.options.handoverMs;
    const next = new Map<number, number>();
    for (const partition of partitions) {
      next.set(partition, (sameTopic ? this.cacheableFromMs.get(partition) : undefined) ?? heldUntilMs);
    }
    this.cacheableFromMs.clear();
    for (const [partition, fromMs] of next) this.cacheableFromMs.set(partition, fromMs);
    this.partitionsTotal = partitionsTotal;
    for (const [key, entry] of this.entries) if (!this.owns(entry.accountId)) this.remove(key);
    for (const tickets of this.readsByAccount.values()) for (const ticket of tickets) ticket.stale = true;
  }

  /** Owns nothing (rebalance started, consumer left or restarting): everything goes. */
  clear(): void {
    this.cacheableFromMs.clear();
    this.entries.clear();
    this.keysByAccount.clear();
    this.bytes = 0;
    for (const tickets of this.readsByAccount.values()) for (const ticket of tickets) ticket.stale = true;
  }

  /** The consumer stored rows for these accounts: their pages are outdated. */
  invalidate(accountIds: ReadonlySet<string>): void {
    for (const accountId of accountIds) {
      const keys = this.keysByAccount.get(accountId);
      if (keys) for (const key of [...keys]) this.remove(key);
      const tickets = this.readsByAccount.get(accountId);
      if (tickets) for (const ticket of tickets) ticket.stale = true;
    }
  }

  /** A cached page, marked most recently used (entries exist only for owned partitions). */
  get(key: string): OperationsPage | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.page;
  }

  /** Starts a read that may fill the cache; undefined when this account's pages are not cacheable. */
  begin(accountId: string, key: string): CacheTicket | undefined {
    if (!this.enabled || !this.owns(accountId, true)) return undefined;
    const ticket: CacheTicket = { accountId, key, stale: false };
    let tickets = this.readsByAccount.get(accountId);
    if (!tickets) this.readsByAccount.set(accountId, (tickets = new Set()));
    tickets.add(ticket);
    return ticket;
  }

  /** Ends a read; stores its page unless the account changed meanwhile. */
  finish(ticket: CacheTicket, page: OperationsPage | undefined): void {
    const tickets = this.readsByAccount.get(ticket.accountId);
    tickets?.delete(ticket);
    if (tickets?.size === 0) this.readsByAccount.delete(ticket.accountId);
    if (!page || ticket.stale || !this.owns(ticket.accountId, true)) return;
    const bytes = estimatePageBytes(page);
    if (bytes > this.options.bytesMax) return;
    this.remove(ticket.key);
    this.entries.set(ticket.key, { accountId: ticket.accountId, page, bytes });
    let keys = this.keysByAccount.get(ticket.accountId);
    if (!keys) this.keysByAccount.set(ticket.accountId, (keys = new Set()));
    keys.add(ticket.key);
    this.bytes += bytes;
    this.evict();
  }

  private owns(accountId: string, cacheableNow = false): boolean {
    if (this.partitionsTotal === 0) return false;
    const fromMs = this.cacheableFromMs.get(this.options.partitionOf(accountId, this.partitionsTotal));
    if (fromMs === undefined) return false;
    return !cacheableNow || this.now() >= fromMs;
  }

  private evict(): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.options.entriesMax && this.bytes <= this.options.bytesMax) return;
      this.remove(key);
    }
  }

  private remove(key: string): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.bytes -= entry.bytes;
    const keys = this.keysByAccount.get(entry.accountId);
    keys?.delete(key);
    if (keys?.size === 0) this.keysByAccount.delete(entry.accountId);
  }
}
