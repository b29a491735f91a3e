// Account owners, kept in memory: an owner never changes and an account is
// never deleted, so a cached owner is never stale, and a transfer checks its
// sender's owner without a query once the account has been seen. Bounded
// (least recently used out first). Unknown accounts are not cached: one may
// be opened later. Concurrent misses for the same account share one query.
import type pg from 'pg';
import type { OwnerLookup } from '../domain/access.js';
import { findAccountOwners } from '../db/accounts.js';
import type { Attempts } from './attempts.js';

/** A Map in insertion order used as an LRU: a hit moves the key to the end, the first key leaves first. */
export class BoundedLru<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(readonly sizeMax: number) {
    if (!Number.isInteger(sizeMax) || sizeMax < 1) throw new RangeError(`sizeMax must be a positive integer, got ${sizeMax}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key) as V;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.sizeMax) this.entries.delete(this.entries.keys().next().value as K);
  }
}

export class AccountOwners {
  /** accountId -> owner (null: the account has none). Only existing customer accounts. */
  private readonly cache: BoundedLru<string, string | null>;
  private readonly pending = new Map<string, Promise<OwnerLookup>>();

  constructor(private readonly options: { pool: pg.Pool; attempts: Attempts; sizeMax: number }) {
    this.cache = new BoundedLru(options.sizeMax);
  }

  /** The cached owner, synchronously (undefined: not cached; ask `lookUp`). */
  cached(accountId: string): OwnerLookup {
    const ownerId = this.cache.get(accountId);
    return ownerId === undefined ? undefined : { ownerId };
  }

  /** The owner of a customer account, from the cache or one query (undefined: no such customer account). */
  lookUp(accountId: string): Promise<OwnerLookup> {
    const hit = this.cached(accountId);
    if (hit) return Promise.resolve(hit);
    let lookup = this.pending.get(accountId);
    if (!lookup) {
      lookup = this.query(accountId).finally(() => this.pending.delete(accountId));
      this.pending.set(accountId, lookup);
    }
    return lookup;
  }

  /** Records an owner read elsewhere (a balance read, an account just opened). */
  remember(accountId: string, ownerId: string | null): void {
    this.cache.set(accountId, ownerId);
  }

  get size(): number {
    return this.cache.size;
  }

  private async query(accountId: string): Promise<OwnerLookup> {
    const owners = await this.options.attempts.run('account', () => findAccountOwners(this.options.pool, [accountId]));
    if (!owners.has(accountId)) return undefined;
    const ownerId = owners.get(accountId) ?? null;
    this.remember(accountId, ownerId);
    return { ownerId };
  }
}
