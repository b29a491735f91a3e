import { describe, expect, it } from 'vitest';
import { decideAttempt, isRecordObsolete, recordFailure, type FailureRecord, type LockoutPolicy } from '../../src/domain/lockout.js';

const policy: LockoutPolicy = { failuresMax: 3, failureWindowMs: 60_000, lockMs: 120_000 };

function failTimes(n: number, startMs: number, stepMs = 1): FailureRecord | undefined {
  let record: FailureRecord | undefined;
  for (let i = 0; i < n; i += 1) record = recordFailure(record, startMs + i * stepMs, policy);
  return record;
}

describe('lockout decisions', () => {
  it('proceeds without a record and below the threshold', () => {
    expect(decideAttempt(undefined, 0)).toEqual({ action: 'proceed' });
    expect(decideAttempt(failTimes(2, 0), 10)).toEqual({ action: 'proceed' });
  });

  it('locks at the threshold and says when to retry, rounded up to whole seconds', () => {
    const record = failTimes(3, 0)!;
    expect(record.lockedUntilMs).toBe(2 + 120_000);
    expect(decideAttempt(record, 500)).toEqual({ action: 'locked', retryAfterSeconds: 120 });
    expect(decideAttempt(record, 120_001)).toEqual({ action: 'locked', retryAfterSeconds: 1 });
  });

  it('lets attempts through once the lock has expired', () => {
    expect(decideAttempt(failTimes(3, 0), 120_002)).toEqual({ action: 'proceed' });
  });

  it('starts a fresh count after an expired lock, so a lock is never permanent', () => {
    const locked = failTimes(3, 0)!;
    const after = recordFailure(locked, 200_000, policy);
    expect(after).toEqual({ failures: 1, firstFailureAtMs: 200_000, lockedUntilMs: null });
  });

  it('forgets failures older than the window', () => {
    const two = failTimes(2, 0)!;
    expect(recordFailure(two, 60_001, policy)).toEqual({ failures: 1, firstFailureAtMs: 60_001, lockedUntilMs: null });
    expect(recordFailure(two, 59_000, policy).lockedUntilMs).toBe(59_000 + 120_000);
  });

  it('calls a record obsolete only when its lock is over and its window has passed', () => {
    const locked = failTimes(3, 0)!;
    expect(isRecordObsolete(locked, 100_000, policy)).toBe(false);
    expect(isRecordObsolete(locked, 130_000, policy)).toBe(true);
    expect(isRecordObsolete(failTimes(1, 0)!, 30_000, policy)).toBe(false);
  });
});
