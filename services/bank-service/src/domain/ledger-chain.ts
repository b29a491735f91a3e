// The per-account hash chain of ledger entries (ADR 0019), recomputed here
// independently of the database trigger that writes it
// (migrations/1764547900000_ledger-hash-chain.sql), so a changed trigger or a
// row edited behind the service's back cannot vouch for itself. Pure: the
// caller reads entries in id order and feeds them one by one.
import { createHash } from 'node:crypto';

/** One ledger entry as stored; createdAtMicros = created_at in integer microseconds since the epoch. */
export interface ChainEntry {
  id: bigint;
  accountId: string;
  amountMinor: bigint;
  balanceAfterMinor: bigint;
  entryType: string;
  transferId: string | null;
  depositId: string | null;
  reversalId: string | null;
  refundId: string | null;
  createdAtMicros: bigint;
  prevHash: Buffer | null;
  entryHash: Buffer | null;
}

export type ChainBreakReason =
  | 'missing hash'
  | 'previous hash mismatch'
  | 'hash mismatch'
  | 'balance_after mismatch'
  | 'account balance mismatch';

export interface ChainBreak {
  accountId: string;
  /** The first entry that does not check out; for 'account balance mismatch' the last entry (0: none). */
  entryId: bigint;
  reason: ChainBreakReason;
}

/** Canonical text, version 1 (the migration's bank.ledger_entry_canonical). */
export function canonicalEntryText(entry: ChainEntry, prevHash: Buffer | null): string {
  return [
    'v1',
    entry.id.toString(),
    entry.accountId,
    entry.amountMinor.toString(),
    entry.balanceAfterMinor.toString(),
    entry.entryType,
    entry.transferId ?? '',
    entry.depositId ?? '',
    entry.reversalId ?? '',
    entry.refundId ?? '',
    entry.createdAtMicros.toString(),
    prevHash ? prevHash.toString('hex') : '',
  ].join('|');
}

export function entryHash(entry: ChainEntry, prevHash: Buffer | null): Buffer {
  return createHash('sha256').update(canonicalEntryText(entry, prevHash), 'utf8').digest();
}

/** Where one account's walk stands: the last entry's id and hash, the running sum of amounts. */
export interface ChainCursor {
  accountId: string;
  lastEntryId: bigint;
  lastHash: Buffer | null;
  sumMinor: bigint;
  entries: number;
}

export function startChain(accountId: string): ChainCursor {
  return { accountId, lastEntryId: 0n, lastHash: null, sumMinor: 0n, entries: 0 };
}

/**
 * Checks the next entry of the account (id order): it links to the previous
 * entry's hash (none for the first), its own hash recomputes, and its
 * balance_after is the running sum. A deleted entry breaks the next one's
 * link; an edited one breaks its own hash.
 */
export function checkChainStep(cursor: ChainCursor, entry: ChainEntry): { ok: true; cursor: ChainCursor } | { ok: false; break: ChainBreak } {
  const broken = (reason: ChainBreakReason) => ({ ok: false as const, break: { accountId: cursor.accountId, entryId: entry.id, reason } });
  if (entry.entryHash === null) return broken('missing hash');
  if (!sameHash(entry.prevHash, cursor.lastHash)) return broken('previous hash mismatch');
  if (!entry.entryHash.equals(entryHash(entry, entry.prevHash))) return broken('hash mismatch');
  const sumMinor = cursor.sumMinor + entry.amountMinor;
  if (sumMinor !== entry.balanceAfterMinor) return broken('balance_after mismatch');
  return { ok: true, cursor: { accountId: cursor.accountId, lastEntryId: entry.id, lastHash: entry.entryHash, sumMinor, entries: cursor.entries + 1 } };
}

/** After the last entry: the account's balance is the sum of its entries (a deleted last entry shows here). */
export function checkChainEnd(cursor: ChainCursor, accountBalanceMinor: bigint): ChainBreak | undefined {
  if (cursor.sumMinor === accountBalanceMinor) return undefined;
  return { accountId: cursor.accountId, entryId: cursor.lastEntryId, reason: 'account balance mismatch' };
}

function sameHash(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}
