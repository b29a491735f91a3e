// An OperationsConsumer over the real chDB store, built from the service's
// config (test defaults) as app/service.ts builds it, with hooks and options
// a test chooses. For consumer tests that need the consumer itself.
import { createLogger, type Logger } from '@wallet/platform';
import { Registry } from 'prom-client';
import { loadAnalyticsConfig, type AnalyticsConfig } from '../../src/config.js';
import { OperationsConsumer, type OperationsConsumerDeps, type OperationsConsumerOptions } from '../../src/consumer/operations-consumer.js';
import { createEventValidator } from '../../src/consumer/validator.js';
import { createAnalyticsMetrics } from '../../src/metrics.js';
import { openClickHouse } from '../../src/store/client.js';
import { OperationsStore } from '../../src/store/operations-store.js';
import { testEnv } from './service.js';

/** The consumer options app/service.ts derives from a config. */
export function consumerOptions(config: AnalyticsConfig): OperationsConsumerOptions {
  return {
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
    groupInstanceId: '',
    storeAttemptsMax: config.ANALYTICS_STORE_ATTEMPTS_MAX,
  };
}

export interface TestConsumer {
  consumer: OperationsConsumer;
  store: OperationsStore;
  stop(): Promise<void>;
}

/** Opens a chDB store at chdbPath (or reuses `store`) and starts a consumer on it. */
export async function startConsumer(
  env: Record<string, string>,
  hooks: Pick<OperationsConsumerDeps, 'onStored' | 'onAssignmentChanged'>,
  shared?: { store: OperationsStore },
  logger: Logger = createLogger('consumer-test', process.env.TEST_SERVICE_LOG_LEVEL ?? 'silent'),
): Promise<TestConsumer> {
  const config = loadAnalyticsConfig(testEnv(env));
  let store = shared?.store;
  if (!store) {
    const clickhouse = await openClickHouse({
      chdbPath: config.ANALYTICS_CHDB_PATH,
      requestTimeoutMs: config.ANALYTICS_CLICKHOUSE_REQUEST_TIMEOUT_MS,
      queryMemoryMibMax: config.ANALYTICS_MEMORY_QUERY_MIB_MAX,
      cacheMibMax: config.ANALYTICS_MEMORY_CACHE_MIB_MAX,
      engineMemoryMibMax: config.ANALYTICS_MEMORY_ENGINE_MIB_MAX,
    });
    store = new OperationsStore(clickhouse.client, config.ANALYTICS_CLICKHOUSE_DATABASE);
    await store.ensureSchema();
  }
  const metrics = createAnalyticsMetrics(new Registry());
  const consumer = new OperationsConsumer(consumerOptions(config), { sink: store, validator: createEventValidator(), metrics, logger, ...hooks });
  consumer.start();
  const owned = !shared;
  const opened = store;
  return {
    consumer,
    store: opened,
    stop: async () => {
      await consumer.stop();
      if (owned) await opened.close();
    },
  };
}
