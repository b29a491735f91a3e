import type { Logger } from '@wallet/platform';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { GatewayClients } from './clients/types.js';
import type { GatewayConfig } from './config.js';
import type { DrainState } from './drain.js';
import { checkReadiness, readinessBody } from './routes/health.js';

export interface OpsServerOptions {
  clients: GatewayClients;
  registry: Registry;
  logger: Logger;
  readinessTimeoutMs: number;
  /** Draining (SIGTERM): /readyz answers 503 here too. */
  drain?: DrainState;
}

/**
 * The gateway's ops listener (NODE_ENV=production; GATEWAY_OPS_HOST:PORT, like
 * the other services' ops servers): /healthz, /readyz with every dependency's
 * state, /metrics. Not for the internet: loopback by default, the compose
 * network in compose. No body, no auth, nothing else.
 */
export function buildOpsServer(options: OpsServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // Scraped every few seconds: no access log line per request.
    logController: new LogController({ disableRequestLogging: true }),
    requestTimeout: 10_000,
  });
  const noStore = { 'cache-control': 'no-store' };
  app.get('/healthz', async (_request, reply) => reply.headers(noStore).send({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const readiness = await checkReadiness(options.clients, options.readinessTimeoutMs, options.drain);
    return reply.code(readiness.ready ? 200 : 503).headers(noStore).send(readinessBody(readiness, true));
  });
  app.get('/metrics', async (_request, reply) => reply.type(options.registry.contentType).send(await options.registry.metrics()));
  return app;
}

/** Builds and starts the ops listener on GATEWAY_OPS_HOST:GATEWAY_OPS_PORT. */
export async function listenOps(
  config: Pick<GatewayConfig, 'GATEWAY_OPS_HOST' | 'GATEWAY_OPS_PORT' | 'GATEWAY_READINESS_TIMEOUT_MS'>,
  clients: GatewayClients,
  registry: Registry,
  logger: Logger,
  drain?: DrainState,
): Promise<FastifyInstance> {
  const ops = buildOpsServer({ clients, registry, logger, readinessTimeoutMs: config.GATEWAY_READINESS_TIMEOUT_MS, ...(drain ? { drain } : {}) });
  await ops.listen({ host: config.GATEWAY_OPS_HOST, port: config.GATEWAY_OPS_PORT });
  return ops;
}
