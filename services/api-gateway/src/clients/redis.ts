import type { Logger } from '@wallet/platform';
import { Redis } from 'ioredis';

export interface RateLimitRedisOptions {
  url: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  logger: Logger;
}

/** Reconnect backoff: 100 ms doubling up to 5 s, forever (Redis coming back must be picked up). */
const RECONNECT_DELAY_MS_MAX = 5_000;

/**
 * The shared rate-limit store's connection. Every call is bounded: a command
 * that gets no answer within commandTimeoutMs fails (the limit then counts
 * in-process), and while disconnected commands fail at once instead of
 * queueing (enableOfflineQueue: false), so a Redis outage never holds a request.
 * Failures are logged on state changes only, never per request.
 */
export function createRateLimitRedis(options: RateLimitRedisOptions): Redis {
  const { logger } = options;
  const redis = new Redis(options.url, {
    connectTimeout: options.connectTimeoutMs,
    commandTimeout: options.commandTimeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 10), RECONNECT_DELAY_MS_MAX),
    // The URL may carry a password: never in logs (ioredis' own debug output is off).
    connectionName: 'wallet-api-gateway',
  });
  let healthy = true;
  redis.on('ready', () => {
    if (!healthy) logger.info('rate-limit store reachable again: limits are shared across replicas');
    healthy = true;
  });
  // Without a listener ioredis prints every connection error to stderr itself.
  redis.on('error', (error: Error) => {
    if (healthy) logger.warn({ reason: error.message }, 'rate-limit store unreachable: limits are counted per replica until it is back');
    healthy = false;
  });
  return redis;
}

/** Resolves true once connected, false after timeoutMs (the gateway starts either way). */
export async function waitUntilReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => finish(false), timeoutMs);
    const onReady = () => finish(true);
    function finish(ready: boolean) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    }
    redis.once('ready', onReady);
  });
}
