import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server as TlsServer } from 'node:tls';
import { createMetricsRegistry, runService } from '@wallet/platform';
import { createGrpcSecurity } from '@wallet/platform/tls';
import { createGatewayClients } from './clients/grpc.js';
import { createGatewayBreakers, guardClients } from './clients/guarded.js';
import { loadGatewayConfig, type GatewayProcessConfig } from './config.js';
import { createDrainState, drainAndClose } from './drain.js';
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
    // Every RPC behind its dependency's circuit breaker (open: 503 dependency-unavailable, nothing sent).
    const clients = guardClients(createGatewayClients(config, security, registry), createGatewayBreakers(config, registry, logger));
    const publicTls = loadPublicTls(config, logger);
    // The internal CA also signs the identity-service's certificate (https AUTH_ISSUER / GATEWAY_IDENTITY_URL).
    const internalCa = config.TLS_CA_FILE === undefined ? undefined : readFileSync(config.TLS_CA_FILE);
    const drain = createDrainState();
    const app = await buildServer({
      drain,
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
    const ops = isProduction(config) ? await listenOps(config, clients, registry, logger, drain) : undefined;
    const info = {
      httpHost: config.GATEWAY_HTTP_HOST,
      httpPort: (app.server.address() as AddressInfo).port,
      https: publicTls !== null,
      grpcSecurity: security.mode,
      ...(ops ? { opsHost: config.GATEWAY_OPS_HOST, opsPort: (ops.server.address() as AddressInfo).port } : {}),
      bank: config.GATEWAY_BANK_GRPC_ADDRESS,
      cardAdapter: config.GATEWAY_CARD_ADAPTER_GRPC_ADDRESS,
      analytics: config.GATEWAY_ANALYTICS_GRPC_ADDRESS,
      webhooks: config.GATEWAY_WEBHOOK_GRPC_ADDRESS,
    };
    logger.info(info, 'listening');
    return {
      info,
      shutdownSteps: [
        // First: /readyz 503 for GATEWAY_DRAIN_MS while serving, then stop accepting and finish in flight.
        {
          name: 'http server',
          run: () => drainAndClose(app, drain, { drainMs: config.GATEWAY_DRAIN_MS, closeTimeoutMs: closeTimeoutMsOf(config), logger }),
        },
        ...(ops ? [{ name: 'ops server', run: () => ops.close() }] : []),
        { name: 'grpc clients', run: () => clients.close() },
        // Last: nothing may need a certificate after this.
        { name: 'https certificate', run: () => publicTls?.close() },
        { name: 'mutual tls', run: () => security.close() },
      ],
    };
  },
});

/** What the shutdown bound leaves for in-flight requests after the drain (the rest: clients, TLS). */
function closeTimeoutMsOf(config: GatewayProcessConfig): number {
  const remainingMs = config.GATEWAY_SHUTDOWN_TIMEOUT_MS - config.GATEWAY_DRAIN_MS;
  return Math.max(50, Math.floor(remainingMs * 0.8));
}
