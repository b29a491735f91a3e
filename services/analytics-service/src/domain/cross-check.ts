// The history cross-check's decisions (ADR 0021), pure: which accounts' posted
// history differs from the ledger, and which differences persist. A difference
// seen once may be an event still on its way (or an instant at the edge of the
// settle window); one seen in two checks of the same account in a row is drift.

/** One account's net posted money up to an instant (minor units; in minus out). */
export interface AccountNet {
  accountId: string;
  netMinor: bigint;
}

/** history − ledger for an account where they differ. */
export interface AccountDifference {
  accountId: string;
  driftMinor: bigint;
}

/** The ledger's accounts whose history net differs (an account absent from the history counts 0). */
export function compareNets(ledger: readonly AccountNet[], history: ReadonlyMap<string, bigint>): AccountDifference[] {
  const differences: AccountDifference[] = [];
  for (const account of ledger) {
    const driftMinor = (history.get(account.accountId) ?? 0n) - account.netMinor;
    if (driftMinor !== 0n) differences.push({ accountId: account.accountId, driftMinor });
  }
  return differences;
}

export interface DriftSummary {
  /** Accounts whose difference persisted across two checks in a row. */
  accounts: number;
  /** Σ |drift| of those accounts (minor units). */
  absoluteMinor: bigint;
}

/**
 * Remembers the differences of the previous check of each account. Bounded:
 * beyond `accountsMax` remembered accounts new suspects are not tracked (counted
 * in `untracked`) until some resolve; a broken history that large is loud anyway.
 */
export class DriftTracker {
  private readonly suspects = new Map<string, bigint>();
  private readonly confirmed = new Map<string, bigint>();
  untracked = 0;

  constructor(private readonly accountsMax: number) {}

  /** Records one check of `checkedAccountIds`, whose differences are `differences`. */
  record(checkedAccountIds: readonly string[], differences: readonly AccountDifference[]): void {
    const now = new Map(differences.map((d) => [d.accountId, d.driftMinor]));
    for (const accountId of checkedAccountIds) {
      const drift = now.get(accountId);
      if (drift === undefined) {
        this.suspects.delete(accountId);
        this.confirmed.delete(accountId);
      } else if (this.suspects.has(accountId) || this.confirmed.has(accountId)) {
        this.suspects.delete(accountId);
        this.confirmed.set(accountId, drift);
      } else if (this.suspects.size + this.confirmed.size < this.accountsMax) {
        this.suspects.set(accountId, drift);
      } else {
        this.untracked += 1;
      }
    }
  }

  summary(): DriftSummary {
    let absoluteMinor = 0n;
    for (const drift of this.confirmed.values()) absoluteMinor += drift < 0n ? -drift : drift;
    return { accounts: this.confirmed.size, absoluteMinor };
  }

  /** The persisting drifts, largest first, at most `limit` (for the log line). */
  largest(limit: number): AccountDifference[] {
    return [...this.confirmed]
      .map(([accountId, driftMinor]) => ({ accountId, driftMinor }))
      .sort((a, b) => (abs(b.driftMinor) > abs(a.driftMinor) ? 1 : abs(b.driftMinor) < abs(a.driftMinor) ? -1 : 0))
      .slice(0, limit);
  }
}

const abs = (value: bigint): bigint => (value < 0n ? -value : value);
