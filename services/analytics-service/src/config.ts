import { env } from '@wallet/platform';
import { z } from 'zod';

/**
 * Environment of the analytics-service; every variable has a default that
 * works locally (`npm start`: Kafka on 127.0.0.1:9092, embedded chDB).
 */
export const configSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  GRPC_HOST: env.host('127.0.0.1'),
  GRPC_PORT: env.port(50053),
  OPS_HOST: env.host('127.0.0.1'),
  OPS_PORT: env.port(9103),

  KAFKA_BROKERS: env.string('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: env.string('analytics-service'),
  KAFKA_GROUP_ID: env.string('analytics-service'),
  KAFKA_OPERATIONS_TOPIC: env.string('wallet.operations'),
  KAFKA_DLQ_TOPIC: env.string('wallet.operations.dlq'),
  /** Broker-side liveness of this group member; a crashed consumer's partitions move after this. */
  KAFKA_SESSION_TIMEOUT_MS: env.int(30_000, 6_000, 300_000),
  KAFKA_HEARTBEAT_INTERVAL_MS: env.int(3_000, 100, 60_000),
  /** Longest a fetch waits on the broker for new records. */
  KAFKA_FETCH_MAX_WAIT_MS: env.int(500, 10, 30_000),
  /** Timeout of one Kafka request (metadata, produce, commit). */
  KAFKA_REQUEST_TIMEOUT_MS: env.int(10_000, 1_000, 120_000),

  /** A ClickHouse server over HTTP (http://user:pass@host:8123); unset = embedded chDB. */
  CLICKHOUSE_URL: env.optionalString(),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier')
    .default('wallet_analytics'),
  CLICKHOUSE_REQUEST_TIMEOUT_MS: env.int(10_000, 500, 300_000),
  /** chDB data folder (relative to the working directory) when CLICKHOUSE_URL is unset. */
  CHDB_PATH: env.string('.data/analytics/chdb'),

  /** A batch is inserted when it holds this many events... */
  BATCH_MAX_SIZE: env.int(1_000, 1, 10_000),
  /** ...or when its oldest event has waited this long. */
  BATCH_MAX_WAIT_MS: env.int(500, 10, 60_000),
  /** Every insert/commit attempt is retried with backoff up to this delay between attempts. */
  RETRY_MAX_DELAY_MS: env.int(5_000, 50, 60_000),
  /** How often consumer lag is measured for /metrics. */
  LAG_INTERVAL_MS: env.int(5_000, 100, 300_000),
  SHUTDOWN_TIMEOUT_MS: env.int(30_000, 1_000, 120_000),

  /**
   * Test hook, never set in production: after a batch is inserted, hold
   * before committing its offsets (the crash-between-insert-and-commit test
   * kills the process there).
   */
  ANALYTICS_TEST_HOLD_BEFORE_COMMIT: env.bool(false),
});

export type AnalyticsConfig = z.infer<typeof configSchema>;
