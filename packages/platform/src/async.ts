// Small async helpers every service needs; one copy, so timeouts and bounds behave alike.

export class TimeoutError extends Error {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`${what} timed out after ${timeoutMs} ms`);
    this.name = 'TimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Rejects with TimeoutError if `promise` has not settled within timeoutMs. The
 * underlying work is not cancelled: pass an AbortSignal to it where it takes one.
 */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, timeoutMs)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Waits for a promise at most timeoutMs, never throws (a rejection counts as done).
 * Returns true if it settled in time. For shutdown paths that must not hang.
 */
export async function settleWithin(promise: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    promise.then(
      () => false,
      () => false,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  return !timedOut;
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** A promise's outcome as a value, so one failure does not abort a batch. */
export function settled<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then(
    (value): Settled<T> => ({ ok: true, value }),
    (error: unknown): Settled<T> => ({ ok: false, error }),
  );
}

/** Maps items with at most `concurrencyMax` calls in flight; results keep the input order. */
export async function mapBounded<T, R>(items: readonly T[], concurrencyMax: number, run: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(concurrencyMax) || concurrencyMax < 1) throw new RangeError('concurrencyMax must be a positive integer');
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrencyMax, items.length) }, async () => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await run(items[index]!, index);
    }
  });
  await Promise.all(lanes);
  return results;
}
