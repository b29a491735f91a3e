import rateLimit, { normalizeIP, type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { createRequire } from 'node:module';
import type { Logger } from '@wallet/platform';
import { Counter, type Registry } from 'prom-client';
import { createRateLimitRedis, waitUntilReady } from '../clients/redis.js';
import type { GatewayConfig } from '../config.js';
import { EDGE_PROBLEMS, ProblemError } from '../mapping/problems.js';
import { MONEY_MOVING_OPERATIONS } from './auth.js';

/** Both limits count over a fixed window of one minute. */
export const RATE_LIMIT_WINDOW_MS = 60_000;
/** Prefix of every key in the shared store (one Redis may serve other tools too). */
export const RATE_LIMIT_KEY_PREFIX = 'wallet-gateway-rate-limit:';
/** RFC 9457 type suffix of a 429 answer. */
export const RATE_LIMITED_SLUG = 'rate-limited';

export interface RateLimitOptions {
  /** Money-moving calls per user per window; 0 turns the limit off. */
  userPerWindow: number;
  /** /auth/* calls per client address per window; 0 turns the limit off. */
  authPerWindow: number;
  /** Keys the in-process store keeps at most (LRU). */
  clientsMax: number;
  /** Shared store (all replicas count together); absent: in-process only. */
  redis?: Redis;
  /** Called once per failed shared-store call, before the request is counted in-process instead. */
  onStoreError?: (error: Error) => void;
}

type StoreCallback = (error: Error | null, result?: { current: number; ttl: number }) => void;
interface Store {
  incr(key: string, callback: StoreCallback, timeWindowMs: number, max: number): void;
}
type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache: number) => Store;
type RedisStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, redis: Redis, keyPrefix: string) => Store;

// The library's own two stores. They are not exported by name, so they are
// loaded by path; the version is pinned and the unit and Redis tests cover both.
const require = createRequire(import.meta.url);
const LocalStore = require('@fastify/rate-limit/store/LocalStore') as LocalStoreCtor;
const RedisStore = require('@fastify/rate-limit/store/RedisStore') as RedisStoreCtor;

/**
 * Redis first, the process's own counters when Redis fails (down, slow past
 * the command timeout): the limits degrade to per replica (at most replicas ×
 * the limit) instead of failing open to no limit, or failing closed and
 * turning a cache outage into a payments outage. See the README.
 */
class FallbackStore implements FastifyRateLimitStore {
  private readonly local: Store;
  private readonly shared: Store | undefined;

  constructor(private readonly options: RateLimitOptions) {
    this.local = new LocalStore(false, false, options.clientsMax);
    this.shared = options.redis ? new RedisStore(false, false, options.redis, RATE_LIMIT_KEY_PREFIX) : undefined;
  }

  incr(key: string, callback: StoreCallback, timeWindowMs: number, max: number): void {
    if (!this.shared) return this.local.incr(key, callback, timeWindowMs, max);
    this.shared.incr(key, (error, result) => {
      if (!error && result) return callback(null, result);
      this.options.onStoreError?.(error ?? new Error('empty answer from the rate-limit store'));
      this.local.incr(key, callback, timeWindowMs, max);
    }, timeWindowMs, max);
  }

  /** Keys carry the limit's name, so every limiter can share one namespace. */
  child(): FastifyRateLimitStore {
    return new FallbackStore(this.options);
  }
}

/** The limit a request falls under, if any. */
export function limitOf(request: FastifyRequest): 'user' | 'auth' | undefined {
  if (request.url.startsWith('/auth/')) return 'auth';
  const operationId = request.routeOptions.config.operationId;
  if (request.method === 'POST' && operationId !== undefined && MONEY_MOVING_OPERATIONS.has(operationId)) return 'user';
  return undefined;
}

const addressOf = (request: FastifyRequest): string => normalizeIP(request.ip);

/** The token's subject; the client address only on a route that is not secured (none today). */
export function userKeyOf(request: FastifyRequest): string {
  const subject = request.principal?.subject;
  return subject ? `sub:${subject}` : `address:${addressOf(request)}`;
}

function rateLimitedError(limit: 'user' | 'auth', ttlMs: number): ProblemError {
  const retryAfterSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
  const who = limit === 'user' ? 'for this user on calls that move money' : 'from this address on /auth';
  return new ProblemError(EDGE_PROBLEMS.rateLimited, `Too many requests ${who}; retry after ${retryAfterSeconds} s (Retry-After).`, {}, retryAfterSeconds);
}

/**
 * Two fixed-window limits through @fastify/rate-limit: per user (token subject)
 * on money-moving calls, counted after authentication (preValidation: a 401 is
 * never counted against anybody), and per client address on /auth/*, counted
 * first thing (onRequest). Every limited response carries RateLimit-Limit,
 * RateLimit-Remaining and RateLimit-Reset (draft-ietf-httpapi-ratelimit-headers);
 * a 429 adds Retry-After and is problem+json type `rate-limited`.
 * Must be installed after authentication and before the routes.
 */
export async function installRateLimits(app: FastifyInstance, options: RateLimitOptions, registry?: Registry): Promise<void> {
  // The catalog name of issue #12 (alerts and dashboards use it); scope = which limit refused.
  const rejected = new Counter({
    name: 'gateway_rate_limit_rejections_total',
    help: 'Requests refused with 429, by limit (user: money-moving calls per user; auth: /auth/* per client address).',
    labelNames: ['scope'] as const,
    registers: registry ? [registry] : [],
  });
  await app.register(rateLimit, {
    global: false,
    enableDraftSpec: true,
    // The store decides what a shared-store failure means (FallbackStore); this is the last resort.
    skipOnError: true,
    store: class extends FallbackStore {
      constructor() {
        super(options);
      }
    },
  });
  const limiter = (limit: 'user' | 'auth', max: number, keyGenerator: (request: FastifyRequest) => string) =>
    app.rateLimit({
      max,
      timeWindow: RATE_LIMIT_WINDOW_MS,
      keyGenerator: (request) => `${limit}:${keyGenerator(request)}`,
      onExceeded: () => rejected.inc({ scope: limit }),
      errorResponseBuilder: (_request, context) => rateLimitedError(limit, context.ttl),
    });
  const userLimit = options.userPerWindow > 0 ? limiter('user', options.userPerWindow, userKeyOf) : undefined;
  const authLimit = options.authPerWindow > 0 ? limiter('auth', options.authPerWindow, addressOf) : undefined;
  const run = (handler: typeof userLimit, request: FastifyRequest, reply: FastifyReply) => handler?.call(app, request, reply);

  app.addHook('onRequest', async (request, reply) => {
    if (limitOf(request) === 'auth') await run(authLimit, request, reply);
  });
  app.addHook('preValidation', async (request, reply) => {
    if (limitOf(request) === 'user') await run(userLimit, request, reply);
  });
}

/** Bound on warnings about a failing shared store: one per minute, the metric counts every failure. */
const STORE_ERROR_LOG_INTERVAL_MS = 60_000;

/**
 * The limits of GatewayConfig: with REDIS_URL, a shared store (connected here,
 * waited for at most the connect timeout; closed with the app), else in-process.
 */
export async function installConfiguredRateLimits(
  app: FastifyInstance,
  config: Pick<
    GatewayConfig,
    | 'GATEWAY_RATE_LIMIT_USER_PER_MINUTE'
    | 'GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE'
    | 'GATEWAY_RATE_LIMIT_CLIENTS_MAX'
    | 'REDIS_URL'
    | 'GATEWAY_REDIS_CONNECT_TIMEOUT_MS'
    | 'GATEWAY_REDIS_COMMAND_TIMEOUT_MS'
  >,
  registry: Registry,
): Promise<void> {
  const options: RateLimitOptions = {
    userPerWindow: config.GATEWAY_RATE_LIMIT_USER_PER_MINUTE,
    authPerWindow: config.GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE,
    clientsMax: config.GATEWAY_RATE_LIMIT_CLIENTS_MAX,
  };
  if (config.REDIS_URL !== undefined && (options.userPerWindow > 0 || options.authPerWindow > 0)) {
    const redis = createRateLimitRedis({
      url: config.REDIS_URL,
      connectTimeoutMs: config.GATEWAY_REDIS_CONNECT_TIMEOUT_MS,
      commandTimeoutMs: config.GATEWAY_REDIS_COMMAND_TIMEOUT_MS,
      logger: app.log as Logger,
    });
    app.addHook('onClose', async () => {
      redis.disconnect();
    });
    if (!(await waitUntilReady(redis, config.GATEWAY_REDIS_CONNECT_TIMEOUT_MS))) {
      app.log.warn({ connectTimeoutMs: config.GATEWAY_REDIS_CONNECT_TIMEOUT_MS }, 'rate-limit store not reachable at start: limits are counted per replica until it is');
    }
    const storeErrors = new Counter({
      name: 'gateway_rate_limit_store_errors_total',
      help: 'Shared rate-limit store calls that failed (the request was then counted in-process).',
      registers: [registry],
    });
    let loggedAtMs = 0;
    options.redis = redis;
    options.onStoreError = (error) => {
      storeErrors.inc();
      if (Date.now() - loggedAtMs < STORE_ERROR_LOG_INTERVAL_MS) return;
      loggedAtMs = Date.now();
      app.log.warn({ reason: error.message }, 'rate-limit store call failed: counted in-process');
    };
  }
  await installRateLimits(app, options, registry);
}
