import { createMetricsRegistry, loadConfig, runService } from '@wallet/platform';
import type { AddressInfo } from 'node:net';
import { createGatewayClients } from './clients/grpc.js';
import { configSchema, type GatewayConfig } from './config.js';
import { isProduction } from './edge-config.js';
import { GATEWAY_REDACT } from './logging.js';
import { listenOps } from './ops-server.js';
import { buildServer } from './server.js';

// Wiring only, through the platform's runService: config -> metrics, gRPC clients -> HTTP server.
await runService<GatewayConfig>({
  name: 'api-gateway',
  loadConfig: () => loadConfig(configSchema),
  logLevel: (config) => config.LOG_LEVEL,
  loggerOptions: { redact: GATEWAY_REDACT },
  shutdownTimeoutMs: (config) => config.GATEWAY_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const registry = createMetricsRegistry('api-gateway');
    const clients = createGatewayClients(config, registry);
    const app = await buildServer({ config, clients, logger, registry });
    await app.listen({ host: config.GATEWAY_HTTP_HOST, port: config.GATEWAY_HTTP_PORT });
    // Production: /metrics and /readyz detail on their own listener, off the public port.
    const ops = isProduction(config) ? await listenOps(config, clients, registry, logger) : undefined;
    const info = {
      httpHost: config.GATEWAY_HTTP_HOST,
      httpPort: (app.server.address() as AddressInfo).port,
      ...(ops ? { opsHost: config.GATEWAY_OPS_HOST, opsPort: (ops.server.address() as AddressInfo).port } : {}),
      bank: config.GATEWAY_BANK_GRPC_ADDRESS,
      cardAdapter: config.GATEWAY_CARD_ADAPTER_GRPC_ADDRESS,
      analytics: config.GATEWAY_ANALYTICS_GRPC_ADDRESS,
    };
    logger.info(info, 'listening');
    return {
      info,
      shutdownSteps: [
        { name: 'http server', run: () => app.close() },
        ...(ops ? [{ name: 'ops server', run: () => ops.close() }] : []),
        { name: 'grpc clients', run: () => clients.close() },
      ],
    };
  },
});
