import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Total attempts including the first; always bounded. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Return false to stop retrying on this error. */
  isRetryable?: (error: unknown) => boolean;
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  signal?: AbortSignal;
}

/** Exponential backoff with full jitter: delay = random(0, min(max, base * 2^n)). */
export function backoffDelayMs(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(attempt, 30));
  return Math.floor(Math.random() * ceiling);
}

/** Runs fn until it succeeds, a non-retryable error occurs, or attempts run out. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  let lastError: unknown;
  for (let attempt = 0; attempt < options.attempts; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      lastError = error;
      const retryable = options.isRetryable?.(error) ?? true;
      if (!retryable || attempt === options.attempts - 1) break;
      const delayMs = backoffDelayMs(attempt, options.baseDelayMs, options.maxDelayMs);
      options.onRetry?.(error, attempt + 1, delayMs);
      await sleep(delayMs, undefined, options.signal ? { signal: options.signal } : undefined);
    }
  }
  throw lastError;
}
