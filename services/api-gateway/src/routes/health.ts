import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { HealthState } from '../clients/types.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

/**
 * /healthz: the process is alive. /readyz: the gateway can serve its core
 * (transfers, balances), i.e. the bank answers its gRPC health check within
 * the deadline. The card adapter and analytics are reported too but do not
 * gate readiness: when they are down only top-ups or history fail (503),
 * and taking the whole gateway out of rotation would make that worse.
 */
export function registerHealthRoutes(app: FastifyInstance, { spec, clients, config }: RouteDeps, registry: Registry): void {
  app.route({
    ...operationRoute(spec.operation('getLiveness')),
    handler: async (_request, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }),
  });

  app.route({
    ...operationRoute(spec.operation('getReadiness')),
    handler: async (_request, reply) => {
      const timeoutMs = config.GATEWAY_READINESS_TIMEOUT_MS;
      const [bank, cardAdapter, analytics] = await Promise.all([
        clients.bank.checkHealth(timeoutMs),
        clients.cardAdapter.checkHealth(timeoutMs),
        clients.analytics.checkHealth(timeoutMs),
      ]);
      const checks: Record<string, HealthState> = { bank, cardAdapter, analytics };
      const ready = bank === 'ok';
      return reply
        .code(ready ? 200 : 503)
        .header('cache-control', 'no-store')
        .send({ status: ready ? 'ok' : 'unavailable', checks });
    },
  });

  app.route({
    ...operationRoute(spec.operation('getMetrics')),
    handler: async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  });
}
