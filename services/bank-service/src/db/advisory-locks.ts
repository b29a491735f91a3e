// BEGIN plus advisory transaction locks in the same round trip. The keys are
// bigints we computed (digits and sign only), so inlining them is safe.
import { advisoryLockLiteral } from '@wallet/platform/db';

/**
 * BEGIN plus a try-lock per key, as one boolean array in key order. Never
 * waits: a key held elsewhere answers IN_FLIGHT for its own request only.
 */
export function beginWithTryAdvisoryLocks(keys: readonly bigint[]): string {
  const calls = keys.map((key) => `pg_try_advisory_xact_lock(${advisoryLockLiteral(key)})`).join(', ');
  return `BEGIN; SELECT ARRAY[${calls}] AS locked`;
}

/** BEGIN plus a waiting advisory lock (bounded by lock_timeout). */
export function beginWithAdvisoryLock(key: bigint): string {
  return `BEGIN; SELECT pg_advisory_xact_lock(${advisoryLockLiteral(key)}), true AS locked`;
}

/** The try-lock results of beginWithTryAdvisoryLocks, one per key. */
export function tryLockResults(begin: ReadonlyArray<{ rows: Array<Record<string, unknown>> } | undefined>): boolean[] {
  const lockedColumn: unknown = begin[1]?.rows[0]?.locked;
  return Array.isArray(lockedColumn) ? lockedColumn.map((locked) => locked === true) : [];
}
