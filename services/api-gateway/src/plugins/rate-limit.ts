import type { FastifyInstance } from 'fastify';
import { EDGE_PROBLEMS, ProblemError } from '../mapping/problems.js';

export interface RateLimitOptions {
  /** Sustained requests per second per client address; 0 turns the limiter off. */
  requestsPerSecond: number;
  /** Requests a client may make at once before the sustained rate applies. */
  burst: number;
  /** Clients tracked at most; the least recently seen are forgotten first (bounded memory). */
  maxClients: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * A token bucket per client address, in memory: abuse protection for one
 * gateway instance, not a quota system (replicas do not share buckets).
 * Applies to the account API only; health, metrics and docs stay reachable.
 */
export function installRateLimit(app: FastifyInstance, options: RateLimitOptions, now: () => number = Date.now): void {
  if (options.requestsPerSecond <= 0) return;
  const buckets = new Map<string, Bucket>();
  app.addHook('onRequest', async (request) => {
    if (!request.routeOptions.url?.startsWith('/accounts/')) return;
    const key = request.ip;
    const at = now();
    let bucket = buckets.get(key);
    if (bucket) {
      buckets.delete(key); // re-inserted below: Map order = least recently seen first
      bucket.tokens = Math.min(options.burst, bucket.tokens + ((at - bucket.updatedMs) / 1000) * options.requestsPerSecond);
      bucket.updatedMs = at;
    } else {
      bucket = { tokens: options.burst, updatedMs: at };
      if (buckets.size >= options.maxClients) buckets.delete(buckets.keys().next().value as string);
    }
    buckets.set(key, bucket);
    if (bucket.tokens < 1) {
      const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / options.requestsPerSecond));
      throw new ProblemError(EDGE_PROBLEMS.tooManyRequests, 'Too many requests; slow down and retry after Retry-After seconds.', {}, retryAfterSeconds);
    }
    bucket.tokens -= 1;
  });
}
