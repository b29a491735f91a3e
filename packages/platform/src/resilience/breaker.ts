import CircuitBreaker from 'opossum';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { isInfrastructureFailure } from './failures.js';

export type BreakerState = 'closed' | 'open' | 'half_open';

/** circuit_breaker_state's value per state. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = { closed: 0, half_open: 1, open: 2 };

export interface BreakerOptions {
  registry: Registry;
  logger: Logger;
  /** How long the breaker stays open before it lets one probe through (half-open). */
  resetTimeoutMs?: number;
  /** Failure share (0..100) of the rolling window above which the breaker opens. */
  errorThresholdPercentage?: number;
  /** Calls the rolling window needs before the breaker may open (no opening on 1 failure of 1). */
  volumeThreshold?: number;
  /** Length of the rolling window the percentage is computed over. */
  rollingCountTimeoutMs?: number;
  /** What counts as a failure; default isInfrastructureFailure (business answers never count). */
  isFailure?: (error: unknown) => boolean;
}

export interface Breaker {
  readonly name: string;
  /** Runs fn unless the breaker is open; open → BreakerOpenError at once, fn never called. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  state(): BreakerState;
  /** Seconds until the breaker lets a probe through (>= 1 while not closed; 0 when closed): the Retry-After value. */
  retryAfterSeconds(): number;
  /** Stops the breaker's timers; later runs reject with BreakerOpenError. */
  shutdown(): void;
}

/**
 * Thrown by Breaker.run while the breaker is open (or half-open with its probe
 * already in flight). Nothing was sent: for a mutating call this is a certain
 * "not done", never an ambiguous outcome.
 */
export class BreakerOpenError extends Error {
  constructor(
    readonly breaker: string,
    readonly retryAfterSeconds: number,
  ) {
    super(`circuit breaker ${breaker} is open: ${breaker} is failing, nothing was sent; retry after ${retryAfterSeconds} s`);
    this.name = 'BreakerOpenError';
  }
}

export function isBreakerOpenError(error: unknown): error is BreakerOpenError {
  return error instanceof BreakerOpenError;
}

export const BREAKER_DEFAULTS = {
  resetTimeoutMs: 5_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  rollingCountTimeoutMs: 10_000,
} as const;

/** Buckets of opossum's rolling window (its default). */
const ROLLING_BUCKETS = 10;

interface BreakerMetrics {
  state: Gauge<'breaker'>;
  transitions: Counter<'breaker' | 'to'>;
  rejections: Counter<'breaker'>;
}

/** One set of metrics per registry, shared by every breaker on it (labelled by name). */
function breakerMetrics(registry: Registry): BreakerMetrics {
  const get = <M>(name: string, create: () => M): M => (registry.getSingleMetric(name) as M | undefined) ?? create();
  return {
    state: get('circuit_breaker_state', () => new Gauge({ name: 'circuit_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half_open, 2 open.', labelNames: ['breaker'], registers: [registry] })),
    transitions: get('circuit_breaker_transitions_total', () => new Counter({ name: 'circuit_breaker_transitions_total', help: 'Circuit breaker state changes, by the state entered.', labelNames: ['breaker', 'to'], registers: [registry] })),
    rejections: get('circuit_breaker_rejections_total', () => new Counter({ name: 'circuit_breaker_rejections_total', help: 'Calls refused by an open circuit breaker without being sent.', labelNames: ['breaker'], registers: [registry] })),
  };
}

/**
 * A circuit breaker around one downstream, on opossum. opossum's own timeout is
 * off: every call already carries its deadline, and a breaker timeout would
 * reject while the call goes on (an outcome we could not tell). Only failures
 * per options.isFailure (default: infrastructure failures) count; anything else
 * counts as a success (the downstream answered), so a business answer also
 * closes a half-open breaker. fn must be bounded (a deadline): a hung half-open
 * probe would keep the breaker half-open.
 */
export function createBreaker(name: string, options: BreakerOptions): Breaker {
  const resetTimeoutMs = options.resetTimeoutMs ?? BREAKER_DEFAULTS.resetTimeoutMs;
  const isFailure = options.isFailure ?? isInfrastructureFailure;
  const circuit = new CircuitBreaker((fn: () => Promise<unknown>) => fn(), {
    name,
    timeout: false,
    resetTimeout: resetTimeoutMs,
    errorThresholdPercentage: options.errorThresholdPercentage ?? BREAKER_DEFAULTS.errorThresholdPercentage,
    volumeThreshold: options.volumeThreshold ?? BREAKER_DEFAULTS.volumeThreshold,
    rollingCountTimeout: options.rollingCountTimeoutMs ?? BREAKER_DEFAULTS.rollingCountTimeoutMs,
    rollingCountBuckets: ROLLING_BUCKETS,
    // opossum: true = "not a failure".
    errorFilter: (error: unknown) => !isFailure(error),
    // Neither is read here: no latency sort on every failure, no snapshot timer.
    rollingPercentilesEnabled: false,
    enableSnapshots: false,
  });
  const metrics = breakerMetrics(options.registry);
  let openedAtMs = 0;
  const state = (): BreakerState => (circuit.opened ? 'open' : circuit.halfOpen ? 'half_open' : 'closed');
  const enter = (to: BreakerState): void => {
    if (to === 'open') openedAtMs = Date.now();
    metrics.state.set({ breaker: name }, BREAKER_STATE_VALUE[to]);
    metrics.transitions.inc({ breaker: name, to });
    const log = to === 'closed' ? options.logger.info.bind(options.logger) : options.logger.warn.bind(options.logger);
    log({ breaker: name, state: to, resetTimeoutMs }, `circuit breaker ${name} ${to}`);
  };
  circuit.on('open', () => enter('open'));
  circuit.on('halfOpen', () => enter('half_open'));
  circuit.on('close', () => {
    // A fresh window once the probe proved the downstream back: the failures
    // that opened the breaker must not reopen it on the next single failure.
    const status = circuit.status as unknown as { rotateBucket?: () => void };
    for (let i = 0; i < ROLLING_BUCKETS; i += 1) status.rotateBucket?.();
    enter('closed');
  });
  metrics.state.set({ breaker: name }, BREAKER_STATE_VALUE.closed);
  metrics.rejections.inc({ breaker: name }, 0);

  const retryAfterSeconds = (): number => {
    const current = state();
    if (current === 'closed') return 0;
    // Half-open with the probe in flight: the answer comes within the probe's deadline.
    if (current === 'half_open') return 1;
    return Math.max(1, Math.ceil((openedAtMs + resetTimeoutMs - Date.now()) / 1000));
  };

  return {
    name,
    state,
    retryAfterSeconds,
    shutdown: () => circuit.shutdown(),
    run: async <T>(fn: () => Promise<T>): Promise<T> => {
      let sent = false;
      const call = (): Promise<T> => {
        sent = true;
        return fn();
      };
      try {
        return (await circuit.fire(call)) as T;
      } catch (error) {
        // opossum refused without calling fn: open, half-open with its probe taken, or shut down.
        if (!sent) {
          metrics.rejections.inc({ breaker: name });
          throw new BreakerOpenError(name, Math.max(1, retryAfterSeconds()));
        }
        throw error;
      }
    },
  };
}
