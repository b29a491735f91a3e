// Composition root of the mock: pool, migrations, engine, HTTP server.
// main.ts calls it with the environment's config; tests call it in-process.

import type pg from 'pg';
import { createMetricsRegistry, redactUrl, startOpsServer, type Logger, type OpsServer, type ShutdownStep } from '@wallet/platform';
import { createPool } from '@wallet/platform/db';
import { createGrpcSecurity, type GrpcSecurity } from '@wallet/platform/tls';
import { PaymentGatewayEngine } from './app/engine.js';
import { ALLOWED_CALLERS, type Config } from './config.js';
import { PgChargeStore } from './db/charges.js';
import { migratePaymentGatewayMock } from './db/migrations.js';
import { createMockMetrics } from './metrics.js';
import { startMockServer, type MockServer } from './http/server.js';

export interface RunningMock {
  server: MockServer;
  ops: OpsServer;
  /** The mock's certificate (reloaded on change and SIGHUP); mode 'plaintext' only under the bench hook. */
  security: GrpcSecurity;
  engine: PaymentGatewayEngine;
  pool: pg.Pool;
  info: Record<string, unknown>;
  shutdownSteps: ShutdownStep[];
  stop(): Promise<void>;
}

export async function startPaymentGatewayMock(config: Config, logger: Logger): Promise<RunningMock> {
  const pool = createPool(
    {
      connectionString: config.DATABASE_URL,
      connectionsMax: config.PAYMENT_GATEWAY_MOCK_DATABASE_CONNECTIONS_MAX,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: config.PAYMENT_GATEWAY_MOCK_DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.PAYMENT_GATEWAY_MOCK_DATABASE_STATEMENT_TIMEOUT_MS * 2,
      applicationName: 'payment-gateway-mock',
    },
    logger,
  );
  try {
    if (config.PAYMENT_GATEWAY_MOCK_MIGRATE_ON_START) await migratePaymentGatewayMock(config.DATABASE_URL, logger);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const engine = new PaymentGatewayEngine(new PgChargeStore(pool), {
    latencyMs: config.PAYMENT_GATEWAY_MOCK_LATENCY_MS,
    failureRate: config.PAYMENT_GATEWAY_MOCK_FAILURE_RATE,
    seed: config.PAYMENT_GATEWAY_MOCK_SEED,
    lateChargeDelayMs: config.PAYMENT_GATEWAY_MOCK_LATE_CHARGE_DELAY_MS,
  });
  const registry = createMetricsRegistry('payment-gateway-mock');
  // Not gRPC, but the same identity machinery: one reloading certificate provider, expiry logged and exported.
  const security = createGrpcSecurity(config.tls, { logger, metrics: registry });
  let server: MockServer;
  let ops: OpsServer;
  try {
    server = await startMockServer({
      engine,
      host: config.PAYMENT_GATEWAY_MOCK_HTTP_HOST,
      port: config.PAYMENT_GATEWAY_MOCK_HTTP_PORT,
      logger,
      metrics: createMockMetrics(registry),
      bodyBytesMax: config.PAYMENT_GATEWAY_MOCK_BODY_BYTES_MAX,
      apiKey: config.PAYMENT_GATEWAY_MOCK_API_KEY,
      tls: security.mtls?.provider ?? null,
      allowedCallers: ALLOWED_CALLERS,
    });
    ops = await startOpsServer({
      host: config.PAYMENT_GATEWAY_MOCK_OPS_HOST,
      port: config.PAYMENT_GATEWAY_MOCK_OPS_PORT,
      registry,
      readiness: async () => {
        try {
          await pool.query('SELECT 1');
          return { database: 'ok' };
        } catch (error) {
          return { database: String((error as Error)?.message ?? error) };
        }
      },
    });
  } catch (error) {
    security.close();
    await pool.end();
    throw error;
  }
  const shutdownSteps: ShutdownStep[] = [
    { name: 'http', run: () => server.close() },
    { name: 'late charges', run: async () => engine.close() },
    { name: 'ops', run: () => ops.close() },
    { name: 'database pool', run: () => pool.end() },
    // Last: the certificate provider stops reloading once nothing serves with it.
    { name: 'tls', run: async () => security.close() },
  ];
  let stopping: Promise<void> | undefined;
  return {
    server,
    ops,
    security,
    engine,
    pool,
    shutdownSteps,
    info: {
      httpPort: server.port,
      scheme: server.scheme,
      opsPort: ops.port,
      allowedCallers: ALLOWED_CALLERS,
      latencyMs: config.PAYMENT_GATEWAY_MOCK_LATENCY_MS,
      failureRate: config.PAYMENT_GATEWAY_MOCK_FAILURE_RATE,
      database: redactUrl(config.DATABASE_URL),
    },
    stop: () => {
      stopping ??= (async () => {
        for (const step of shutdownSteps) await step.run();
      })();
      return stopping;
    },
  };
}
