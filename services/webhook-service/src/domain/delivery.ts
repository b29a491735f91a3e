// Delivery rules (pure): when the next attempt is, when to give up, what a
// response means, and the delivery log's cursor.

export type DeliveryStatus = 'pending' | 'succeeded' | 'failed';

export interface DeliveryRecord {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  accountId: string;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number;
  lastError: string;
  createdAt: Date;
  nextAttemptAt: Date;
  deliveredAt: Date | null;
  /** The secret versions that signed the last attempt, newest first. */
  secretVersions: number[];
}

export interface RetryPolicy {
  delayMsMin: number;
  delayMsMax: number;
}

/**
 * Exponential backoff with full jitter between half and all of the capped
 * delay: attempt 1 failed -> about delayMsMin, doubling up to delayMsMax.
 * `random` in [0, 1) is injected so tests are exact.
 */
export function retryDelayMs(attemptsMade: number, policy: RetryPolicy, random: number): number {
  const exponent = Math.min(Math.max(attemptsMade - 1, 0), 40);
  const cappedMs = Math.min(policy.delayMsMax, policy.delayMsMin * 2 ** exponent);
  return Math.round(cappedMs / 2 + (cappedMs / 2) * random);
}

export type AttemptOutcome = { kind: 'succeeded'; statusCode: number } | { kind: 'failed'; statusCode: number; error: string };

/** Any 2xx is a success; everything else (3xx included: redirects are not followed) is a failure to retry. */
export function outcomeOfStatus(statusCode: number): AttemptOutcome {
  if (statusCode >= 200 && statusCode < 300) return { kind: 'succeeded', statusCode };
  return { kind: 'failed', statusCode, error: `HTTP ${statusCode}` };
}

/** After a failed attempt: the next attempt's time, or give up when it would fall after giveUpAt. */
export function afterFailure(attemptsMade: number, now: Date, giveUpAt: Date, policy: RetryPolicy, random: number): { status: 'pending'; nextAttemptAt: Date } | { status: 'failed' } {
  const next = new Date(now.getTime() + retryDelayMs(attemptsMade, policy, random));
  return next.getTime() > giveUpAt.getTime() ? { status: 'failed' } : { status: 'pending', nextAttemptAt: next };
}

/** Keyset cursor of the delivery log (newest first): created_at (µs precision kept as ISO + id). */
export interface LogCursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(cursor: LogCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

export function decodeCursor(token: string): LogCursor | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 2) return undefined;
    const [createdAt, id] = value as unknown[];
    if (typeof createdAt !== 'string' || typeof id !== 'string') return undefined;
    if (Number.isNaN(Date.parse(createdAt)) || !/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    return { createdAt, id };
  } catch {
    return undefined;
  }
}

/** Short, secret-free text of a failed attempt's error for the log. */
export function describeError(error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const name = (error as Error)?.name ?? 'Error';
  if (typeof code === 'string') return code.slice(0, 64);
  return name.slice(0, 64);
}
