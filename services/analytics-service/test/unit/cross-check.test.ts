import { describe, expect, it } from 'vitest';
import { compareNets, DriftTracker } from '../../src/domain/cross-check.js';

describe('compareNets', () => {
  it('reports history minus ledger where they differ; an account with no history counts 0', () => {
    const ledger = [
      { accountId: 'a', netMinor: 100n },
      { accountId: 'b', netMinor: -50n },
      { accountId: 'c', netMinor: 0n },
      { accountId: 'd', netMinor: 7n },
    ];
    const history = new Map([
      ['a', 100n],
      ['b', -20n],
      ['x', 5n],
    ]);
    expect(compareNets(ledger, history)).toEqual([
      { accountId: 'b', driftMinor: 30n },
      { accountId: 'd', driftMinor: -7n },
    ]);
  });
});

describe('DriftTracker', () => {
  it('reports drift only when an account differs in two checks in a row, and clears it when it agrees again', () => {
    const tracker = new DriftTracker(100);
    tracker.record(['a', 'b'], [{ accountId: 'a', driftMinor: -5n }]);
    expect(tracker.summary()).toEqual({ accounts: 0, absoluteMinor: 0n });
    tracker.record(['a', 'b'], [{ accountId: 'a', driftMinor: -5n }, { accountId: 'b', driftMinor: 3n }]);
    expect(tracker.summary()).toEqual({ accounts: 1, absoluteMinor: 5n });
    tracker.record(['a', 'b'], [{ accountId: 'a', driftMinor: -6n }, { accountId: 'b', driftMinor: 3n }]);
    expect(tracker.summary()).toEqual({ accounts: 2, absoluteMinor: 9n });
    expect(tracker.largest(1)).toEqual([{ accountId: 'a', driftMinor: -6n }]);
    tracker.record(['a'], []);
    expect(tracker.summary()).toEqual({ accounts: 1, absoluteMinor: 3n });
  });

  it('forgets a difference that goes away before the second check (an event still on its way)', () => {
    const tracker = new DriftTracker(100);
    tracker.record(['a'], [{ accountId: 'a', driftMinor: 1n }]);
    tracker.record(['a'], []);
    tracker.record(['a'], [{ accountId: 'a', driftMinor: 1n }]);
    expect(tracker.summary().accounts).toBe(0);
  });

  it('keeps the state of accounts not checked in this run (a cycle spans runs)', () => {
    const tracker = new DriftTracker(100);
    tracker.record(['a'], [{ accountId: 'a', driftMinor: 1n }]);
    tracker.record(['b'], []);
    tracker.record(['a'], [{ accountId: 'a', driftMinor: 1n }]);
    expect(tracker.summary().accounts).toBe(1);
  });

  it('remembers at most accountsMax accounts and counts the ones it could not track', () => {
    const tracker = new DriftTracker(2);
    const differences = ['a', 'b', 'c'].map((accountId) => ({ accountId, driftMinor: 1n }));
    tracker.record(['a', 'b', 'c'], differences);
    expect(tracker.untracked).toBe(1);
    tracker.record(['a', 'b', 'c'], differences);
    expect(tracker.summary().accounts).toBe(2);
  });
});
