// Builds and starts the service from its configuration: store, consumer,
// gRPC and ops servers. main.ts calls this; integration tests call it too, so
// they run exactly what production runs.
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { AnalyticsServiceService } from '@wallet/contracts/analytics';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelayMs, createMetricsRegistry, partitionForKey, startGrpcServer, startOpsServer, type Logger } from '@wallet/platform';
import { createGrpcSecurity, type GrpcSecurity } from '@wallet/platform/tls';
import { GrpcLedgerTotals } from '../clients/bank.js';
import { CrossCheck } from './cross-check.js';
import type { Registry } from 'prom-client';
import type { AnalyticsConfig } from '../config.js';
import { OperationsConsumer, type TopicPartition } from '../consumer/operations-consumer.js';
import { createEventValidator } from '../consumer/validator.js';
import { ANALYTICS_CALLERS } from '../grpc/callers.js';
import { ERROR_DOMAIN } from '../grpc/errors.js';
import { ANALYTICS_SERVICE_NAME, createAnalyticsServicer } from '../grpc/servicer.js';
import { createAnalyticsMetrics, registerHistoryCacheGauges, registerStoreMemoryGauges, type AnalyticsMetrics } from '../metrics.js';
import { openClickHouse } from '../store/client.js';
import { classifyStoreFailure } from '../store/errors.js';
import { OperationsStore } from '../store/operations-store.js';
import { FirstPageBatcher } from './first-page-batcher.js';
import { HistoryCache } from './history-cache.js';
import { HistoryReader, type HistoryStore } from './history-reader.js';
import { topicPartitionsCount } from './topic-partitions.js';

export interface RunningAnalytics {
  grpcPort: number;
  opsPort: number;
  store: OperationsStore;
  consumer: OperationsConsumer;
  registry: Registry;
  /** The history cross-check (undefined when ANALYTICS_CROSS_CHECK_ENABLED=false). */
  crossCheck: CrossCheck | undefined;
  /** Graceful: stop consuming, flush + commit the batch, drain gRPC, close everything. */
  stop(): Promise<void>;
}

const READINESS_TIMEOUT_MS = 2_000;
const MIB = 1024 * 1024;
/** Attempts to read the topic's partition count after an assignment (1 s apart); the cache stays off without it. */
const PARTITIONS_COUNT_ATTEMPTS_MAX = 3;

/** The page cache and the reader in front of the store (README "History page cache"). */
function historyReads(config: AnalyticsConfig, store: OperationsStore, metrics: AnalyticsMetrics, registry: Registry) {
  const cache = new HistoryCache({
    entriesMax: config.ANALYTICS_HISTORY_CACHE_ENTRIES_MAX,
    bytesMax: config.ANALYTICS_HISTORY_CACHE_MIB_MAX * MIB,
    // A previous owner's last batch may still be landing: its session ends within the session
    // timeout, and an insert it started before that within one store request.
    handoverMs: config.ANALYTICS_KAFKA_SESSION_TIMEOUT_MS + config.ANALYTICS_CLICKHOUSE_REQUEST_TIMEOUT_MS,
    partitionOf: partitionForKey,
  });
  registerHistoryCacheGauges(registry, () => ({ entries: cache.size, bytes: cache.sizeBytes }));
  const batchAccountsMax = config.ANALYTICS_HISTORY_BATCH_ACCOUNTS_MAX;
  const batcher = batchAccountsMax > 1 ? new FirstPageBatcher(store, batchAccountsMax) : undefined;
  const reader = new HistoryReader(
    store,
    cache,
    { hits: metrics.historyCacheHits, misses: metrics.historyCacheMisses, shared: metrics.historyReadsShared },
    batcher,
  );
  return { cache, reader };
}

/**
 * The consumer's assignment hook: own nothing at once, then (with the topic's partition count,
 * which maps an account to its partition) own what was assigned. Only the latest change applies.
 */
function followAssignment(cache: HistoryCache, topic: string, partitionsCount: () => Promise<number>, logger: Logger) {
  let latest = 0;
  return (assigned: ReadonlyArray<TopicPartition>): void => {
    const change = (latest += 1);
    cache.clear();
    const partitions = assigned.filter((p) => p.topic === topic).map((p) => p.partition);
    if (!cache.enabled || partitions.length === 0) return;
    void (async () => {
      for (let attempt = 1; attempt <= PARTITIONS_COUNT_ATTEMPTS_MAX && change === latest; attempt += 1) {
        try {
          const total = await partitionsCount();
          if (change === latest && total > 0) cache.setAssignment(partitions, total);
          return;
        } catch (error) {
          logger.warn({ err: error, attempt }, 'history cache: partition count unknown; caching nothing meanwhile');
          await sleep(1_000);
        }
      }
    })();
  };
}

/** The servicer behind the caller table (ADR 0009); each refusal is logged and counted. */
function authorizedServicer(security: GrpcSecurity, store: HistoryStore, metrics: AnalyticsMetrics, logger: Logger): UntypedServiceImplementation {
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

/**
 * Sets up the schema. A store that answers but refuses (bad credentials, bad SQL) fails the start;
 * one that is unreachable does not: the service starts anyway (reads answer UNAVAILABLE, /readyz
 * says so) and retries in the background with capped backoff, then consumes. Without this a
 * replica restarted while ClickHouse is down would crash-loop, and an orchestrator's growing
 * restart backoff would keep history down long after ClickHouse is back.
 * Resolves true when the schema is set up, false when stopped first.
 */
async function prepareSchema(store: OperationsStore, retryDelayMsMax: number, signal: AbortSignal, logger: Logger): Promise<{ ready: Promise<boolean> }> {
  try {
    await store.ensureSchema();
    logger.info('store ready');
    return { ready: Promise.resolve(true) };
  } catch (error) {
    if (classifyStoreFailure(error) !== 'transient') throw error;
    logger.warn({ err: error }, 'store unreachable at start: serving, and retrying the schema setup before consuming');
  }
  const retry = async (): Promise<boolean> => {
    for (let attempt = 1; !signal.aborted; attempt += 1) {
      await sleep(backoffDelayMs(attempt, 200, retryDelayMsMax), undefined, { signal }).catch(() => {});
      if (signal.aborted) break;
      try {
        await store.ensureSchema();
        logger.info({ attempts: attempt + 1 }, 'store ready');
        return true;
      } catch (error) {
        logger.warn({ err: error, attempt }, 'schema setup failed; retrying');
      }
    }
    return false;
  };
  return { ready: retry() };
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
    logger.info({ engine: clickhouse.engine, location: clickhouse.location, database: config.ANALYTICS_CLICKHOUSE_DATABASE }, 'store opened');
    const schema = new AbortController();
    closers.push({ name: 'schema-retry', run: async () => schema.abort() });
    const schemaSetup = await prepareSchema(store, config.ANALYTICS_RETRY_DELAY_MS_MAX, schema.signal, logger);
    registerStoreMemoryGauges(registry, () => store.memoryStats());

    const history = historyReads(config, store, metrics, registry);
    const partitionsCount = () =>
      topicPartitionsCount({
        brokers: config.kafkaBrokers,
        connection: config.kafkaConnection,
        clientId: config.ANALYTICS_KAFKA_CLIENT_ID,
        topic: config.ANALYTICS_KAFKA_OPERATIONS_TOPIC,
        requestTimeoutMs: config.ANALYTICS_KAFKA_REQUEST_TIMEOUT_MS,
      });
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
        storeIntervalMsMin: config.ANALYTICS_STORE_INTERVAL_MS_MIN,
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
      {
        sink: store,
        validator: createEventValidator(),
        metrics,
        logger,
        onStored: (accountIds) => history.cache.invalidate(accountIds),
        onAssignmentChanged: followAssignment(history.cache, config.ANALYTICS_KAFKA_OPERATIONS_TOPIC, partitionsCount, logger),
      },
    );

    const grpc = await startGrpcServer({
      host: config.ANALYTICS_GRPC_HOST,
      port: config.ANALYTICS_GRPC_PORT,
      services: [
        {
          name: ANALYTICS_SERVICE_NAME,
          definition: AnalyticsServiceService,
          implementation: authorizedServicer(security, history.reader, metrics, logger),
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
        const [broker, storeCheck] = await Promise.allSettled([consumer.brokerReachable(), store.ping().then((up) => up && store.schemaReady)]);
        const verdict = (r: PromiseSettledResult<boolean>) =>
          r.status === 'fulfilled' ? (r.value ? 'ok' : 'unreachable') : `unreachable: ${String((r.reason as Error)?.message ?? r.reason).slice(0, 200)}`;
        return { kafka: verdict(broker), store: verdict(storeCheck) };
      },
      // Reported, never deciding readiness: a replica with no partitions (more replicas than
      // partitions, or mid-rebalance) still serves history.
      detail: () => ({ consumerGroup: consumer.membership() }),
    });
    closers.push({ name: 'ops', run: () => ops.close() });

    let crossCheck: CrossCheck | undefined;
    if (config.ANALYTICS_CROSS_CHECK_ENABLED) {
      crossCheck = new CrossCheck(
        {
          intervalMs: config.ANALYTICS_CROSS_CHECK_INTERVAL_MS,
          settleMs: config.ANALYTICS_CROSS_CHECK_SETTLE_MS,
          pageSizeMax: config.ANALYTICS_CROSS_CHECK_PAGE_SIZE_MAX,
          pagesMax: config.ANALYTICS_CROSS_CHECK_PAGES_MAX,
          suspectsMax: config.ANALYTICS_CROSS_CHECK_SUSPECTS_MAX,
        },
        new GrpcLedgerTotals(config.ANALYTICS_BANK_GRPC_ADDRESS, config.ANALYTICS_BANK_TIMEOUT_MS, security.client('bank-service')),
        store,
        metrics,
        logger.child({ component: 'cross-check' }),
      );
      crossCheck.start();
      const started = crossCheck;
      closers.push({ name: 'cross-check', run: () => started.stop() });
    }

    // Consume last, once the schema exists: by now the servers are up. At stop the schema retry
    // ends first (closers run in reverse), so a consumer is never started after its stop.
    closers.push({ name: 'consumer', run: () => consumer.stop() });
    closers.push({ name: 'schema-retry', run: async () => schema.abort() });
    void schemaSetup.ready.then((ready) => {
      if (ready && !schema.signal.aborted) consumer.start();
    });
    logger.info({ grpcPort: grpc.port, opsPort: ops.port, topic: config.ANALYTICS_KAFKA_OPERATIONS_TOPIC, groupId: config.ANALYTICS_KAFKA_GROUP_ID }, 'listening');

    return { grpcPort: grpc.port, opsPort: ops.port, store, consumer, registry, crossCheck, stop: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
