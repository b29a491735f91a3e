// Brute-force protection for one username: pure decisions over its failure record.

export interface LockoutPolicy {
  /** Consecutive failures within the window that lock the username. */
  failuresMax: number;
  failureWindowMs: number;
  lockMs: number;
}

export interface FailureRecord {
  failures: number;
  firstFailureAtMs: number;
  lockedUntilMs: number | null;
}

export type AttemptDecision = { action: 'proceed' } | { action: 'locked'; retryAfterSeconds: number };

/** Before checking a password: is the username locked right now? */
export function decideAttempt(record: FailureRecord | undefined, nowMs: number): AttemptDecision {
  const lockedUntilMs = record?.lockedUntilMs ?? null;
  if (lockedUntilMs === null || lockedUntilMs <= nowMs) return { action: 'proceed' };
  return { action: 'locked', retryAfterSeconds: Math.max(1, Math.ceil((lockedUntilMs - nowMs) / 1000)) };
}

/**
 * After a wrong password: the new record. Failures older than the window, or
 * from before an expired lock, start a fresh count, so a lock never becomes
 * permanent: each lock needs failuresMax new failures.
 */
export function recordFailure(record: FailureRecord | undefined, nowMs: number, policy: LockoutPolicy): FailureRecord {
  const lockedUntilMs = record?.lockedUntilMs ?? null;
  const expiredLock = lockedUntilMs !== null && lockedUntilMs <= nowMs;
  const stale = record === undefined || expiredLock || nowMs - record.firstFailureAtMs > policy.failureWindowMs;
  const failures = stale ? 1 : record.failures + 1;
  const firstFailureAtMs = stale ? nowMs : record.firstFailureAtMs;
  if (failures >= policy.failuresMax) {
    return { failures, firstFailureAtMs, lockedUntilMs: nowMs + policy.lockMs };
  }
  return { failures, firstFailureAtMs, lockedUntilMs: null };
}

/** A record nothing depends on any more (purged by the periodic cleanup). */
export function isRecordObsolete(record: FailureRecord, nowMs: number, policy: LockoutPolicy): boolean {
  const lockOver = record.lockedUntilMs === null || record.lockedUntilMs <= nowMs;
  return lockOver && nowMs - record.firstFailureAtMs > policy.failureWindowMs;
}
