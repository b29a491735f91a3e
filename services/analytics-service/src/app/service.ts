// Builds and starts the service from its configuration: store, consumer,
// gRPC and ops servers. main.ts calls this; integration tests call it too, so
// they run exactly what production runs.
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { AnalyticsServiceService } from '@wallet/contracts/analytics';
import { createMetricsRegistry, startGrpcServer, startOpsServer, type Logger } from '@wallet/platform';
import { createGrpcSecurity, type GrpcSecurity } from '@wallet/platform/tls';
import type { Registry } from 'prom-client';
import type { AnalyticsConfig } from '../config.js';
import { OperationsConsumer } from '../consumer/operations-consumer.js';
import { createEventValidator } from '../consumer/validator.js';
import { ANALYTICS_CALLERS } from '../grpc/callers.js';
import { ERROR_DOMAIN } from '../grpc/errors.js';
import { ANALYTICS_SERVICE_NAME, createAnalyticsServicer } from '../grpc/servicer.js';
import { createAnalyticsMetrics, registerStoreMemoryGauges, type AnalyticsMetrics } from '../metrics.js';
import { openClickHouse } from '../store/client.js';
import { OperationsStore } from '../store/operations-store.js';

export interface RunningAnalytics {
  grpcPort: number;
  opsPort: number;
  store: OperationsStore;
  consumer: OperationsConsumer;
  registry: Registry;
  /** Graceful: stop consuming, flush + commit the batch, drain gRPC, close everything. */
  stop(): Promise<void>;
}

const READINESS_TIMEOUT_MS = 2_000;

/** The servicer behind the caller table (ADR 0009); each refusal is logged and counted. */
function authorizedServicer(security: GrpcSecurity, store: OperationsStore, metrics: AnalyticsMetrics, logger: Logger): UntypedServiceImplementation {
  const servicer = createAnalyticsServicer(store, logger);
  return security.authorize(AnalyticsServiceService, servicer as unknown as UntypedServiceImplementation, ANALYTICS_CALLERS, {
    domain: ERROR_DOMAIN,
    onDenied: ({ rpc, caller, reason }) => {
      metrics.grpcCallersDenied.inc({ rpc, caller: caller ?? '' });
      logger.warn({ rpc, caller, reason }, 'grpc caller refused');
    },
  });
}

/** server.address/port of store spans: a ClickHouse server's (chDB runs in this process: none). */
function storeServer(engine: 'http' | 'chdb', location: string): { address: string; port: number } | undefined {
  if (engine !== 'http') return undefined;
  const url = new URL(location);
  return { address: url.hostname, port: Number(url.port) || (url.protocol === 'https:' ? 443 : 80) };
}

export async function startAnalytics(config: AnalyticsConfig, logger: Logger): Promise<RunningAnalytics> {
  const registry = createMetricsRegistry('analytics-service');
  const metrics = createAnalyticsMetrics(registry);
  const closers: { name: string; run: () => Promise<void> }[] = [];
  const closeAll = async () => {
    for (const closer of closers.reverse()) {
      await closer.run().catch((error: unknown) => logger.error({ err: error, step: closer.name }, 'stop step failed'));
    }
  };
  try {
    // Built first and closed last: it reloads the certificate behind the gRPC server.
    const security = createGrpcSecurity(config.grpcSecurity, { logger, metrics: registry });
    closers.push({ name: 'grpc-security', run: async () => security.close() });

    const clickhouse = await openClickHouse({
      ...(config.CLICKHOUSE_URL ? { url: config.CLICKHOUSE_URL } : {}),
      chdbPath: config.ANALYTICS_CHDB_PATH,
      requestTimeoutMs: config.ANALYTICS_CLICKHOUSE_REQUEST_TIMEOUT_MS,
      queryMemoryMibMax: config.ANALYTICS_MEMORY_QUERY_MIB_MAX,
      cacheMibMax: config.ANALYTICS_MEMORY_CACHE_MIB_MAX,
      engineMemoryMibMax: config.ANALYTICS_MEMORY_ENGINE_MIB_MAX,
    });
    const store = new OperationsStore(clickhouse.client, config.ANALYTICS_CLICKHOUSE_DATABASE, storeServer(clickhouse.engine, clickhouse.location));
    closers.push({ name: 'store', run: () => store.close() });
    await store.ensureSchema();
    registerStoreMemoryGauges(registry, () => store.memoryStats());
    logger.info({ engine: clickhouse.engine, location: clickhouse.location, database: config.ANALYTICS_CLICKHOUSE_DATABASE }, 'store ready');

    const consumer = new OperationsConsumer(
      {
        brokers: config.kafkaBrokers,
        connection: config.kafkaConnection,
        clientId: config.ANALYTICS_KAFKA_CLIENT_ID,
        groupId: config.ANALYTICS_KAFKA_GROUP_ID,
        topic: config.ANALYTICS_KAFKA_OPERATIONS_TOPIC,
        dlqTopic: config.ANALYTICS_KAFKA_DLQ_TOPIC,
        batchSizeMax: config.ANALYTICS_BATCH_SIZE_MAX,
        batchWaitMsMax: config.ANALYTICS_BATCH_WAIT_MS_MAX,
        sessionTimeoutMs: config.ANALYTICS_KAFKA_SESSION_TIMEOUT_MS,
        heartbeatIntervalMs: config.ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS,
        fetchWaitMsMax: config.ANALYTICS_KAFKA_FETCH_WAIT_MS_MAX,
        fetchBytesMax: config.ANALYTICS_KAFKA_FETCH_BYTES_MAX,
        requestTimeoutMs: config.ANALYTICS_KAFKA_REQUEST_TIMEOUT_MS,
        retryDelayMsMax: config.ANALYTICS_RETRY_DELAY_MS_MAX,
        lagIntervalMs: config.ANALYTICS_LAG_INTERVAL_MS,
        groupInstanceId: config.ANALYTICS_KAFKA_STATIC_MEMBERSHIP ? config.ANALYTICS_KAFKA_GROUP_INSTANCE_ID : '',
        storeAttemptsMax: config.ANALYTICS_STORE_ATTEMPTS_MAX,
        holdBeforeCommit: config.WALLET_TEST_HOLD_BEFORE_COMMIT,
      },
      { sink: store, validator: createEventValidator(), metrics, logger },
    );

    const grpc = await startGrpcServer({
      host: config.ANALYTICS_GRPC_HOST,
      port: config.ANALYTICS_GRPC_PORT,
      services: [
        {
          name: ANALYTICS_SERVICE_NAME,
          definition: AnalyticsServiceService,
          implementation: authorizedServicer(security, store, metrics, logger),
        },
      ],
      credentials: security.serverCredentials(),
      // RED histogram grpc_server_handling_seconds per RPC (spans come with the platform server).
      registry,
    });
    closers.push({ name: 'grpc', run: () => grpc.shutdown(5_000) });

    const ops = await startOpsServer({
      host: config.ANALYTICS_OPS_HOST,
      port: config.ANALYTICS_OPS_PORT,
      registry,
      readinessTimeoutMs: READINESS_TIMEOUT_MS,
      readiness: async () => {
        const [broker, storeCheck] = await Promise.allSettled([consumer.brokerReachable(), store.ping()]);
        const verdict = (r: PromiseSettledResult<boolean>) =>
          r.status === 'fulfilled' ? (r.value ? 'ok' : 'unreachable') : `unreachable: ${String((r.reason as Error)?.message ?? r.reason).slice(0, 200)}`;
        return { kafka: verdict(broker), store: verdict(storeCheck) };
      },
      // Reported, never deciding readiness: a replica with no partitions (more replicas than
      // partitions, or mid-rebalance) still serves history.
      detail: () => ({ consumerGroup: consumer.membership() }),
    });
    closers.push({ name: 'ops', run: () => ops.close() });

    // Consume last: by now the store and the servers are up.
    consumer.start();
    closers.push({ name: 'consumer', run: () => consumer.stop() });
    logger.info({ grpcPort: grpc.port, opsPort: ops.port, topic: config.ANALYTICS_KAFKA_OPERATIONS_TOPIC, groupId: config.ANALYTICS_KAFKA_GROUP_ID }, 'listening');

    return { grpcPort: grpc.port, opsPort: ops.port, store, consumer, registry, stop: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
