// Secret rotation rules (pure): which versions sign a delivery, the grace
// period a rotation asks for, and its request hash (idempotency).
import { createHash } from 'node:crypto';
import type { FieldViolation } from '@wallet/platform';

/** Longest grace period a rotation may ask for (7 days). */
export const GRACE_PERIOD_SECONDS_MAX = 604_800;
/** The current secret and the one it replaced: at most two signatures per delivery. */
export const SIGNING_SECRETS_MAX = 2;

export interface SecretVersion {
  version: number;
  /** null: the current secret. */
  expiresAt: Date | null;
}

/**
 * The versions that sign at `now`, newest first: the current one, and a
 * replaced one whose grace period has not ended (the grace ends at expiresAt,
 * exclusive). Bounded to SIGNING_SECRETS_MAX, whatever the storage holds.
 */
export function signingVersions<T extends SecretVersion>(versions: readonly T[], now: Date): T[] {
  return versions
    .filter((v) => v.expiresAt === null || v.expiresAt.getTime() > now.getTime())
    .sort((a, b) => b.version - a.version)
    .slice(0, SIGNING_SECRETS_MAX);
}

/** The grace period in ms: the request's (seconds, 0-7 days) or the configured default. */
export function gracePeriodMs(requestedSeconds: number | undefined, defaultMs: number): { ok: true; ms: number } | { ok: false; violations: FieldViolation[] } {
  if (requestedSeconds === undefined) return { ok: true, ms: defaultMs };
  if (!Number.isInteger(requestedSeconds) || requestedSeconds < 0 || requestedSeconds > GRACE_PERIOD_SECONDS_MAX) {
    return { ok: false, violations: [{ field: 'grace_period_seconds', description: `must be 0-${GRACE_PERIOD_SECONDS_MAX}` }] };
  }
  return { ok: true, ms: requestedSeconds * 1000 };
}

/** Same key + same hash = replay; another grace period with the key = IDEMPOTENCY_KEY_REUSED. */
export function rotationRequestHash(requestedSeconds: number | undefined): string {
  return createHash('sha256').update(JSON.stringify({ gracePeriodSeconds: requestedSeconds ?? null })).digest('hex');
}
