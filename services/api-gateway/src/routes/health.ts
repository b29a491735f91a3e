import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { BreakerStateName, GatewayClients, HealthState } from '../clients/types.js';
import type { DrainState } from '../drain.js';
import { isProduction } from '../edge-config.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

/** Operations served by the ops listener, not the public port, when NODE_ENV=production. */
export const OPS_ONLY_OPERATIONS: ReadonlySet<string> = new Set(['getMetrics']);

export interface Readiness {
  ready: boolean;
  checks: Record<string, HealthState>;
  /** Each circuit breaker's state (clients/guarded.ts), when the clients have breakers. */
  breakers?: Record<string, BreakerStateName>;
}

/** The readiness answer's body: the status alone for a load balancer, else the detail too. */
export function readinessBody({ ready, checks, breakers }: Readiness, detail: boolean): Record<string, unknown> {
  const status = ready ? 'ok' : 'unavailable';
  if (!detail) return { status };
  return breakers ? { status, checks, breakers } : { status, checks };
}

/**
 * The gateway can serve its core (transfers, balances) when the bank answers
 * its gRPC health check within the deadline. The card adapter, analytics and
 * the webhook service are reported too but do not gate readiness: when they are down only top-ups
 * or history fail (503), and taking the whole gateway out of rotation would
 * make that worse.
 */
export async function checkReadiness(clients: GatewayClients, timeoutMs: number, drain?: DrainState): Promise<Readiness> {
  const breakers = clients.breakerStates?.();
  // Draining (SIGTERM): out of rotation at once, whatever the dependencies say.
  if (drain?.draining) return { ready: false, checks: { gateway: 'DRAINING' }, ...(breakers ? { breakers } : {}) };
  const [bank, cardAdapter, analytics, webhooks] = await Promise.all([
    clients.bank.checkHealth(timeoutMs),
    clients.cardAdapter.checkHealth(timeoutMs),
    clients.analytics.checkHealth(timeoutMs),
    clients.webhooks.checkHealth(timeoutMs),
  ]);
  return { ready: bank === 'ok', checks: { bank, cardAdapter, analytics, webhooks }, ...(breakers ? { breakers } : {}) };
}

/** Health, readiness and metrics are never shed: the load balancer and Prometheus must see the answer. */
function unshed<R extends { config: object }>(route: R): R {
  return { ...route, config: { ...route.config, loadShedding: false } };
}

/**
 * /healthz: the process is alive. /readyz: see checkReadiness. /metrics.
 * In production the public port answers /readyz with the status alone (what a
 * load balancer needs; which dependency is down is for operators) and has no
 * /metrics: both are on the ops listener (ops-server.ts).
 */
export function registerHealthRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps, registry: Registry, drain?: DrainState): void {
  const opsSplit = isProduction(config);
  app.route({
    ...unshed(operationRoute(spec.operation('getLiveness'))),
    handler: async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }),
  });

  app.route({
    ...unshed(operationRoute(spec.operation('getReadiness'))),
    handler: async (_request, reply) => {
      const readiness = await checkReadiness(clients, config.GATEWAY_READINESS_TIMEOUT_MS, drain);
      return reply
        .code(readiness.ready ? 200 : 503)
        .header('cache-control', 'no-store')
        .send(readinessBody(readiness, !opsSplit));
    },
  });

  if (opsSplit) return;
  app.route({
    ...unshed(operationRoute(spec.operation('getMetrics'))),
    handler: async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  });
}
