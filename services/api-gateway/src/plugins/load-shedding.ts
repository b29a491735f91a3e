import underPressure, { TYPE_EVENT_LOOP_DELAY } from '@fastify/under-pressure';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { EDGE_PROBLEMS, ProblemError } from '../mapping/problems.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** false: never shed (health, readiness, metrics: a load balancer must still see the answer). */
    loadShedding?: boolean;
  }
}

export type LoadShedReason = 'event_loop_delay' | 'requests_in_flight';

export interface LoadSheddingOptions {
  /** Mean event-loop delay (ms, sampled each sampleIntervalMs) above which new requests are refused. */
  eventLoopDelayMsMax: number;
  /** Requests being served at once above which new requests are refused. */
  requestsInFlightMax: number;
  /** Retry-After (seconds) of a shed answer. */
  retryAfterSeconds: number;
  registry: Registry;
  /** How often under-pressure samples the event loop (default 1000 ms, its own default). */
  sampleIntervalMs?: number;
}

/** The counter of refused requests, created once per registry. */
export function loadShedCounter(registry: Registry): Counter<'reason'> {
  const name = 'gateway_load_shed_total';
  const existing = registry.getSingleMetric(name) as Counter<'reason'> | undefined;
  return existing ?? new Counter({ name, help: 'Requests refused with 503 service-overloaded, by reason', labelNames: ['reason'], registers: [registry] });
}

const SHED_DETAIL: Record<LoadShedReason, string> = {
  event_loop_delay: 'The gateway is overloaded (its event loop lags); the request was not executed. Retry later with the same Idempotency-Key.',
  requests_in_flight: 'The gateway is serving as many requests as it allows; the request was not executed. Retry later with the same Idempotency-Key.',
};

function shedError(reason: LoadShedReason, retryAfterSeconds: number): ProblemError {
  return new ProblemError(EDGE_PROBLEMS.overloaded, SHED_DETAIL[reason], {}, retryAfterSeconds);
}

const exempt = (request: FastifyRequest): boolean => request.routeOptions.config.loadShedding === false;

/**
 * Refuses new work with 503 service-overloaded before it costs anything (it runs
 * in onRequest, before authentication and body parsing) when the event loop
 * lags (@fastify/under-pressure) or too many requests are in flight (counted
 * here: under-pressure has no such bound). A refused request was never sent
 * downstream, so a retry is always safe. Install after the security headers
 * (a browser can read the 503) and before authentication.
 */
export async function installLoadShedding(app: FastifyInstance, options: LoadSheddingOptions): Promise<void> {
  const shed = loadShedCounter(options.registry);
  let inFlight = 0;
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (exempt(request)) return;
    if (inFlight >= options.requestsInFlightMax) {
      shed.inc({ reason: 'requests_in_flight' });
      throw shedError('requests_in_flight', options.retryAfterSeconds);
    }
    inFlight += 1;
    // 'close' fires once whether the answer was sent or the client went away.
    reply.raw.once('close', () => {
      inFlight -= 1;
    });
  });
  const sampleIntervalMs = options.sampleIntervalMs ?? 1000;
  // Building the app (schema compilation) blocks the loop for seconds before it serves anything; the
  // samples that saw it are not load, so the delay bound holds from two samples after ready.
  let armedAtMs = Number.POSITIVE_INFINITY;
  app.addHook('onReady', async () => {
    armedAtMs = Date.now() + 2 * sampleIntervalMs;
  });
  await app.register(underPressure, {
    maxEventLoopDelay: options.eventLoopDelayMsMax,
    sampleInterval: sampleIntervalMs,
    pressureHandler: (request, _reply, type) => {
      if (exempt(request) || type !== TYPE_EVENT_LOOP_DELAY || Date.now() < armedAtMs) return undefined;
      shed.inc({ reason: 'event_loop_delay' });
      // A rejected promise goes to the one error handler: problem+json with Retry-After.
      return Promise.reject(shedError('event_loop_delay', options.retryAfterSeconds));
    },
  });
}
