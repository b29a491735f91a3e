import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { createMetricsRegistry, runService } from '@wallet/platform';
import { createGrpcSecurity } from '@wallet/platform/tls';
import { createGatewayClients } from './clients/grpc.js';
import { loadGatewayConfig, type GatewayProcessConfig } from './config.js';
import { isProduction } from './edge-config.js';
import { GATEWAY_REDACT } from './logging.js';
import { listenOps } from './ops-server.js';
import { loadPublicTls } from './public-tls.js';
import { buildServer } from './server.js';

// Wiring only, through the platform's runService: config -> metrics, mutual TLS,
// gRPC clients -> HTTP(S) server.
await runService<GatewayProcessConfig>({
  name: 'api-gateway',
  loadConfig: () => loadGatewayConfig(),
  logLevel: (config) => config.LOG_LEVEL,
  loggerOptions: { redact: GATEWAY_REDACT },
  shutdownTimeoutMs: (config) => config.GATEWAY_SHUTDOWN_TIMEOUT_MS,
  start: async (config, logger) => {
    const registry = createMetricsRegistry('api-gateway');
    const security = createGrpcSecurity(config.grpcSecurity, { logger, metrics: registry });
    // createGrpcSecurity keeps the certificate provider watching (SIGHUP) for the process's life.
    const clients = createGatewayClients(config, security, registry);
    const publicTls = loadPublicTls(config, logger);
    // The internal CA also signs the identity-service's certificate (https AUTH_ISSUER / GATEWAY_IDENTITY_URL).
    const internalCa = config.TLS_CA_FILE === undefined ? undefined : readFileSync(config.TLS_CA_FILE);
    const app = await buildServer({
      config,
      clients,
      logger,
      registry,
      ...(publicTls ? { https: publicTls.identity() } : {}),
      ...(internalCa ? { internalCa } : {}),
    });
    await app.listen({ host: config.GATEWAY_HTTP_HOST, port: config.GATEWAY_HTTP_PORT });
    publicTls?.follow(app.server as unknown as TlsServer);
    // Production: /metrics and /readyz detail on their own plain-HTTP listener, off the public port.
    const ops = isProduction(config) ? await listenOps(config, clients, registry, logger) : undefined;
    const info = {
      httpHost: config.GATEWAY_HTTP_HOST,
      httpPort: (app.server.address() as AddressInfo).port,
      https: publicTls !== null,
      grpcSecurity: security.mode,
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
        // Last: nothing may need a certificate after this.
        { name: 'https certificate', run: () => publicTls?.close() },
        { name: 'mutual tls', run: () => security.close() },
      ],
    };
  },
});
