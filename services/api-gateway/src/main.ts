import { ConfigError, createLogger, createMetricsRegistry, installShutdown, loadConfig } from '@wallet/platform';
import type { AddressInfo } from 'node:net';
import { createGatewayClients } from './clients/grpc.js';
import { configSchema } from './config.js';
import { GATEWAY_REDACT } from './logging.js';
import { buildServer } from './server.js';

// Wiring only: config -> logger, metrics, gRPC clients -> HTTP server -> shutdown.
async function main(): Promise<void> {
  const config = loadConfig(configSchema);
  const logger = createLogger('api-gateway', config.LOG_LEVEL, { redact: GATEWAY_REDACT });
  const registry = createMetricsRegistry('api-gateway');
  const clients = createGatewayClients(config, registry);
  const app = await buildServer({ config, clients, logger, registry });

  installShutdown(
    logger,
    [
      { name: 'http server', run: () => app.close() },
      { name: 'grpc clients', run: () => clients.close() },
    ],
    config.GATEWAY_SHUTDOWN_TIMEOUT_MS,
  );

  await app.listen({ host: config.GATEWAY_HTTP_HOST, port: config.GATEWAY_HTTP_PORT });
  const httpPort = (app.server.address() as AddressInfo).port;
  logger.info(
    {
      httpHost: config.GATEWAY_HTTP_HOST,
      httpPort,
      bank: config.GATEWAY_BANK_GRPC_ADDRESS,
      cardAdapter: config.GATEWAY_CARD_ADAPTER_GRPC_ADDRESS,
      analytics: config.GATEWAY_ANALYTICS_GRPC_ADDRESS,
    },
    'listening',
  );
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    console.error(error.message);
  } else {
    console.error('api-gateway failed to start', error);
  }
  process.exit(1);
});
