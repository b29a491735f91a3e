// Composition root: builds the adapters and starts the gRPC server, the ops
// server, the Kafka consumer (fan-out) and the dispatcher. main.ts calls it
// with the environment's config; tests call it in-process with overrides.
import type pg from 'pg';
import { createMetricsRegistry, redactUrl, withTimeout, startGrpcServer, startOpsServer, type Logger, type OpsServer, type RunningGrpcServer, type ShutdownStep } from '@wallet/platform';
import { createTokenVerifier, type TokenVerifier } from '@wallet/platform/auth';
import { createPool } from '@wallet/platform/db';
import { createGrpcSecurity, type GrpcSecurity } from '@wallet/platform/tls';
import type { Registry } from 'prom-client';
import { Dispatcher } from './app/dispatcher.js';
import type { EndpointContext } from './app/endpoints.js';
import { fanOut } from './app/fanout.js';
import { UrlGuard, type Resolver } from './app/url-guard.js';
import { grpcOwnerDirectory, type OwnerDirectory } from './clients/bank.js';
import { HttpWebhookSender, type WebhookSender } from './clients/webhook-sender.js';
import type { Config } from './config.js';
import { EventsConsumer } from './consumer/events-consumer.js';
import { queueStats } from './db/deliveries.js';
import { migrateWebhooks } from './db/migrations.js';
import { authorizedServicer } from './grpc/callers.js';
import { createWebhookServicer } from './grpc/servicer.js';
import { createWebhookMetrics, type WebhookMetrics } from './metrics.js';

/** Bound of the readiness probe's Kafka check (reported in detail only). */
const KAFKA_CHECK_TIMEOUT_MS = 1_500;

export interface WebhookOverrides {
  verifier?: TokenVerifier;
  owners?: OwnerDirectory;
  resolver?: Resolver;
  sender?: WebhookSender;
  random?: () => number;
}

export interface RunningWebhookService {
  grpc: RunningGrpcServer;
  ops: OpsServer;
  pool: pg.Pool;
  security: GrpcSecurity;
  dispatcher: Dispatcher;
  consumer: EventsConsumer;
  metrics: WebhookMetrics;
  registry: Registry;
  info: Record<string, unknown>;
  shutdownSteps: ShutdownStep[];
  stop(): Promise<void>;
}

export async function startWebhookService(config: Config, logger: Logger, overrides: WebhookOverrides = {}): Promise<RunningWebhookService> {
  const registry = createMetricsRegistry('webhook-service');
  const security = createGrpcSecurity(config.security, { logger, metrics: registry });
  const pool = createPool(
    {
      connectionString: config.DATABASE_URL,
      connectionsMax: config.WEBHOOK_DATABASE_CONNECTIONS_MAX,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: config.WEBHOOK_DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.WEBHOOK_DATABASE_STATEMENT_TIMEOUT_MS * 2,
      applicationName: 'webhook-service',
    },
    logger,
  );
  try {
    if (config.WEBHOOK_MIGRATE_ON_START) await migrateWebhooks(config.DATABASE_URL, logger);
    return await startParts(config, logger, overrides, { registry, security, pool });
  } catch (error) {
    await pool.end();
    security.close();
    throw error;
  }
}

async function startParts(
  config: Config,
  logger: Logger,
  overrides: WebhookOverrides,
  base: { registry: Registry; security: GrpcSecurity; pool: pg.Pool },
): Promise<RunningWebhookService> {
  const { registry, security, pool } = base;
  const metrics = createWebhookMetrics(registry, { read: () => queueStats(pool), logger });
  const guard = new UrlGuard(config.WEBHOOK_ALLOW_LOOPBACK_URLS, overrides.resolver);
  const sender = overrides.sender ?? new HttpWebhookSender(guard, config.WEBHOOK_DELIVERY_TIMEOUT_MS, config.WEBHOOK_DISPATCH_CONCURRENCY_MAX);
  const owners =
    overrides.owners ??
    grpcOwnerDirectory(config.WEBHOOK_BANK_GRPC_ADDRESS, config.WEBHOOK_BANK_TIMEOUT_MS, security.client('bank-service'), registry, config.WEBHOOK_OWNER_CACHE_SIZE_MAX);
  const verifier =
    overrides.verifier ??
    createTokenVerifier({
      issuer: config.AUTH_ISSUER,
      registry,
      audience: config.AUTH_AUDIENCE,
      rolesClaim: config.AUTH_ROLES_CLAIM,
      ...(security.mtls ? { caCertificates: () => security.mtls!.provider.current().ca } : {}),
    });
  const dispatcher = new Dispatcher({
    pool,
    sender,
    secretKey: config.secretKey,
    logger,
    retry: { delayMsMin: config.WEBHOOK_RETRY_DELAY_MS_MIN, delayMsMax: config.WEBHOOK_RETRY_DELAY_MS_MAX },
    deliveryTimeoutMs: config.WEBHOOK_DELIVERY_TIMEOUT_MS,
    intervalMs: config.WEBHOOK_DISPATCH_INTERVAL_MS,
    batchSizeMax: config.WEBHOOK_DISPATCH_BATCH_SIZE_MAX,
    concurrencyMax: config.WEBHOOK_DISPATCH_CONCURRENCY_MAX,
    endpointConcurrencyMax: config.WEBHOOK_DISPATCH_ENDPOINT_CONCURRENCY_MAX,
    ...(overrides.random ? { random: overrides.random } : {}),
    onAttempt: (outcome, seconds) => {
      metrics.deliveries.inc({ outcome });
      metrics.attemptSeconds.observe({ outcome }, seconds);
    },
  });
  const consumer = new EventsConsumer(
    {
      brokers: config.kafkaBrokers,
      connection: config.kafkaConnection,
      clientId: config.WEBHOOK_KAFKA_CLIENT_ID,
      groupId: config.WEBHOOK_KAFKA_GROUP_ID,
      topic: config.WEBHOOK_KAFKA_OPERATIONS_TOPIC,
      batchSizeMax: config.WEBHOOK_CONSUMER_BATCH_SIZE_MAX,
      sessionTimeoutMs: config.WEBHOOK_KAFKA_SESSION_TIMEOUT_MS,
      heartbeatIntervalMs: config.WEBHOOK_KAFKA_HEARTBEAT_INTERVAL_MS,
      fetchWaitMsMax: config.WEBHOOK_KAFKA_FETCH_WAIT_MS_MAX,
      requestTimeoutMs: config.WEBHOOK_KAFKA_REQUEST_TIMEOUT_MS,
      retryDelayMsMax: 10_000,
    },
    {
      logger,
      handle: async (events) => {
        const stored = await fanOut({ pool, owners, retryWindowMs: config.WEBHOOK_RETRY_WINDOW_MS }, events);
        if (stored.deliveries > 0) dispatcher.wake();
      },
      onEvents: (outcome, count) => metrics.events.inc({ outcome }, count),
    },
  );
  const ctx: EndpointContext = {
    pool,
    guard,
    secretKey: config.secretKey,
    endpointsPerOwnerMax: config.WEBHOOK_ENDPOINTS_PER_OWNER_MAX,
    retryWindowMs: config.WEBHOOK_RETRY_WINDOW_MS,
    secretRotationGraceMs: config.WEBHOOK_SECRET_ROTATION_GRACE_MS,
  };
  const grpc = await startGrpcServer({
    host: config.WEBHOOK_GRPC_HOST,
    port: config.WEBHOOK_GRPC_PORT,
    services: [authorizedServicer(security, createWebhookServicer({ ctx, logger, metrics, verifier }), { logger, metrics })],
    credentials: security.serverCredentials(),
    registry,
  });
  let kafka = 'unknown';
  const ops = await startOpsServer({
    host: config.WEBHOOK_OPS_HOST,
    port: config.WEBHOOK_OPS_PORT,
    registry,
    // Only this replica's database decides readiness; Kafka is reported (the gRPC API works without it).
    readiness: async () => {
      // In the background and bounded: a slow broker must not make the probe time out.
      void withTimeout(consumer.brokerReachable(), KAFKA_CHECK_TIMEOUT_MS, 'kafka metadata').then(
        (ok) => (kafka = ok ? 'ok' : 'no brokers'),
        (error: unknown) => (kafka = String((error as Error)?.message ?? error)),
      );
      try {
        await pool.query('SELECT 1');
        return { database: 'ok' };
      } catch (error) {
        return { database: String((error as Error)?.message ?? error) };
      }
    },
    detail: () => ({ dependencies: { kafka } }),
  });
  consumer.start();
  dispatcher.start();
  const shutdownSteps: ShutdownStep[] = [
    { name: 'grpc', run: () => grpc.shutdown(Math.floor(config.WEBHOOK_SHUTDOWN_TIMEOUT_MS / 2)) },
    { name: 'consumer', run: () => consumer.stop() },
    { name: 'dispatcher', run: () => dispatcher.stop() },
    { name: 'ops', run: () => ops.close() },
    { name: 'sender', run: () => sender.close() },
    { name: 'bank client', run: async () => owners.close() },
    { name: 'database pool', run: () => pool.end() },
    { name: 'tls', run: async () => security.close() },
  ];
  let stopping: Promise<void> | undefined;
  return {
    grpc,
    ops,
    pool,
    security,
    dispatcher,
    consumer,
    metrics,
    registry,
    shutdownSteps,
    info: {
      grpcPort: grpc.port,
      opsPort: ops.port,
      bank: config.WEBHOOK_BANK_GRPC_ADDRESS,
      kafka: config.kafkaBrokers,
      database: redactUrl(config.DATABASE_URL),
      allowLoopbackUrls: config.WEBHOOK_ALLOW_LOOPBACK_URLS,
      transportSecurity: security.mode,
    },
    stop: () => {
      stopping ??= (async () => {
        for (const step of shutdownSteps) await step.run();
      })();
      return stopping;
    },
  };
}
