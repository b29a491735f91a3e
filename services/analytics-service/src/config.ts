import { OPERATIONS_DLQ_TOPIC, OPERATIONS_TOPIC } from '@wallet/contracts';
import { ConfigError, env, kafkaConnectionOptions, kafkaSecretSpecs, kafkaSecurityShape, loadConfigWithSecrets, type KafkaConnectionOptions, type SecretSpecs } from '@wallet/platform';
import { grpcSecurityOptions, tlsConfigShape, type GrpcSecurityOptions } from '@wallet/platform/tls';
import { z } from 'zod';

/**
 * Environment of the analytics-service; every variable has a default that
 * works locally (`npm start`: Kafka on 127.0.0.1:9092, embedded chDB).
 * Everything the service owns is prefixed ANALYTICS_; limits are <NOUN>_<UNIT>_MAX.
 */
export const configSchema = z
  .object({
    NODE_ENV: z.string().default('development'),
    LOG_LEVEL: env.logLevel(),
    ANALYTICS_GRPC_HOST: env.host('127.0.0.1'),
    ANALYTICS_GRPC_PORT: env.port(50053),
    ANALYTICS_OPS_HOST: env.host('127.0.0.1'),
    ANALYTICS_OPS_PORT: env.port(9103),
    /** Mutual TLS of the gRPC port (TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE: required). */
    ...tlsConfigShape,

    KAFKA_BROKERS: env.string('127.0.0.1:9092'),
    ANALYTICS_KAFKA_CLIENT_ID: env.string('analytics-service'),
    ANALYTICS_KAFKA_GROUP_ID: env.string('analytics-service'),
    /**
     * Static group membership (KIP-345): a restarted member with the same instance id takes
     * its partitions back at once instead of waiting out its predecessor's session.
     */
    ANALYTICS_KAFKA_STATIC_MEMBERSHIP: env.bool(true),
    /** This replica's instance id; unique per replica (e.g. the pod name). */
    ANALYTICS_KAFKA_GROUP_INSTANCE_ID: z.string().regex(/^\S{1,249}$/, 'must be 1-249 characters without spaces').default('analytics-service-0'),
    ANALYTICS_KAFKA_OPERATIONS_TOPIC: env.string(OPERATIONS_TOPIC),
    ANALYTICS_KAFKA_DLQ_TOPIC: env.string(OPERATIONS_DLQ_TOPIC),
    /**
     * Broker-side liveness of this group member (also the rebalance timeout): a crashed replica's
     * partitions move to the others after this plus one heartbeat (measured 6.1-6.2 s at 6000/500,
     * bench/handover.mjs). 6000 is the broker's default group.min.session.timeout.ms.
     */
    ANALYTICS_KAFKA_SESSION_TIMEOUT_MS: env.int(6_000, 6_000, 300_000),
    ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS: env.int(1_000, 100, 60_000),
    /** Longest a fetch waits on the broker for new records. */
    ANALYTICS_KAFKA_FETCH_WAIT_MS_MAX: env.int(500, 10, 30_000),
    /**
     * Bytes one fetch may bring (all partitions together). The client pushes a whole fetch
     * response into the stream at once, so this bounds what a lagging consumer holds in memory.
     */
    ANALYTICS_KAFKA_FETCH_BYTES_MAX: env.int(1_048_576, 65_536, 52_428_800),
    /** Timeout of one Kafka request (metadata, produce, commit). */
    ANALYTICS_KAFKA_REQUEST_TIMEOUT_MS: env.int(10_000, 1_000, 120_000),
    /** Kafka TLS and SASL (KAFKA_TLS*, KAFKA_SASL_*), shared with the bank's producer. */
    ...kafkaSecurityShape,

    /**
     * A ClickHouse server over HTTP(S) (https://user:pass@host:8443); unset = embedded chDB.
     * Secret (it may carry a password): CLICKHOUSE_URL_FILE, required so in production.
     */
    CLICKHOUSE_URL: env.optionalString(),
    ANALYTICS_CLICKHOUSE_DATABASE: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be a plain identifier')
      .default('wallet_analytics'),
    ANALYTICS_CLICKHOUSE_REQUEST_TIMEOUT_MS: env.int(10_000, 500, 300_000),
    /** chDB data folder (relative to the working directory) when CLICKHOUSE_URL is unset. */
    ANALYTICS_CHDB_PATH: env.string('.data/analytics/chdb'),
    /** Per-query memory cap inside ClickHouse/chDB (max_memory_usage). */
    ANALYTICS_MEMORY_QUERY_MIB_MAX: env.int(256, 32, 16_384),
    /** Each of chDB's mark and primary-index caches (embedded engine only). */
    ANALYTICS_MEMORY_CACHE_MIB_MAX: env.int(64, 0, 16_384),
    /** Everything the embedded engine tracks: queries, merges, caches (max_server_memory_usage). */
    ANALYTICS_MEMORY_ENGINE_MIB_MAX: env.int(768, 128, 65_536),
    /** History pages cached in-process for the accounts this replica writes (0 = off; README "History page cache"). */
    ANALYTICS_HISTORY_CACHE_ENTRIES_MAX: env.int(10_000, 0, 1_000_000),
    /** ...and at most this much memory for them (estimated). */
    ANALYTICS_HISTORY_CACHE_MIB_MAX: env.int(64, 1, 4_096),
    /** First pages read together while a read runs, at most this many accounts per batch (1 = each alone). */
    ANALYTICS_HISTORY_BATCH_ACCOUNTS_MAX: env.int(32, 1, 256),

    /** A batch is inserted when it holds this many events... */
    ANALYTICS_BATCH_SIZE_MAX: env.int(1_000, 1, 10_000),
    /** ...or when its oldest event has waited this long (0 = as soon as its partition's previous batch is stored). */
    ANALYTICS_BATCH_WAIT_MS_MAX: env.int(0, 0, 60_000),
    /**
     * The partitions' batches are stored together (one lookup + one insert for all that wait), at most
     * once per this interval: each store query costs several ms of engine CPU whatever its size (issue 14).
     */
    ANALYTICS_STORE_INTERVAL_MS_MIN: env.int(100, 0, 10_000),
    /** A transient store failure is retried with backoff up to this delay between attempts... */
    ANALYTICS_RETRY_DELAY_MS_MAX: env.int(5_000, 50, 60_000),
    /** ...at most this many times; then the consumer restarts from the last commit (nothing lost). */
    ANALYTICS_STORE_ATTEMPTS_MAX: env.int(10, 1, 1_000),
    /** How often consumer lag is measured for /metrics. */
    ANALYTICS_LAG_INTERVAL_MS: env.int(5_000, 100, 300_000),
    ANALYTICS_SHUTDOWN_TIMEOUT_MS: env.int(30_000, 1_000, 120_000),

    /** History cross-check against the ledger (ADR 0021): off only where no bank runs (some tests). */
    ANALYTICS_CROSS_CHECK_ENABLED: env.bool(true),
    /** The bank's gRPC address for GetLedgerTotals (mutual TLS as analytics-service). */
    ANALYTICS_BANK_GRPC_ADDRESS: env.string('127.0.0.1:50051'),
    /** Deadline of one GetLedgerTotals call. */
    ANALYTICS_BANK_TIMEOUT_MS: env.int(10_000, 100, 120_000),
    /** Time between the end of one run and the start of the next. */
    ANALYTICS_CROSS_CHECK_INTERVAL_MS: env.int(60_000, 100, 86_400_000),
    /** Only entries and events at or before now minus this are compared (events lag the commit). */
    ANALYTICS_CROSS_CHECK_SETTLE_MS: env.int(30_000, 0, 3_600_000),
    /** Accounts per GetLedgerTotals page (the bank's maximum is 1000). */
    ANALYTICS_CROSS_CHECK_PAGE_SIZE_MAX: env.int(1_000, 1, 1_000),
    /** Pages per run; the next run continues where this one stopped. */
    ANALYTICS_CROSS_CHECK_PAGES_MAX: env.int(100, 1, 100_000),
    /** Differing accounts remembered between checks (bounds memory when history is badly broken). */
    ANALYTICS_CROSS_CHECK_SUSPECTS_MAX: env.int(10_000, 1, 1_000_000),

    /**
     * Test hook, refused in production: after a batch is inserted, hold
     * before committing its offsets (the crash-between-insert-and-commit test
     * kills the process there).
     */
    WALLET_TEST_HOLD_BEFORE_COMMIT: env.bool(false),
  })
  .superRefine((config, ctx) => {
    if (config.NODE_ENV === 'production' && config.WALLET_TEST_HOLD_BEFORE_COMMIT) {
      ctx.addIssue({ code: 'custom', path: ['WALLET_TEST_HOLD_BEFORE_COMMIT'], message: 'test hook refused when NODE_ENV=production' });
    }
    if (config.ANALYTICS_MEMORY_QUERY_MIB_MAX > config.ANALYTICS_MEMORY_ENGINE_MIB_MAX) {
      ctx.addIssue({ code: 'custom', path: ['ANALYTICS_MEMORY_QUERY_MIB_MAX'], message: 'must not exceed ANALYTICS_MEMORY_ENGINE_MIB_MAX' });
    }
    if (config.ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS * 3 > config.ANALYTICS_KAFKA_SESSION_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS'], message: 'must be at most a third of ANALYTICS_KAFKA_SESSION_TIMEOUT_MS' });
    }
  });

/** Secrets: X may come from X_FILE, and must in production (see @wallet/platform secrets). */
export const analyticsSecrets: SecretSpecs = {
  CLICKHOUSE_URL: { required: false },
  ...kafkaSecretSpecs,
};

export type AnalyticsEnvConfig = z.infer<typeof configSchema>;

/** The validated environment plus what was derived from it at load time. */
export type AnalyticsConfig = AnalyticsEnvConfig & {
  kafkaBrokers: string[];
  /** mTLS files for the gRPC port (or 'plaintext' under the bench hook). */
  grpcSecurity: GrpcSecurityOptions;
  /** tls / sasl options of every Kafka client. */
  kafkaConnection: KafkaConnectionOptions;
};

/**
 * Reads and checks the whole configuration once, at start: secrets (from
 * X or X_FILE), the schema, the mTLS files and the Kafka security files.
 * Every problem is one ConfigError naming its variables (runService: exit 2).
 */
export function loadAnalyticsConfig(environment: NodeJS.ProcessEnv = process.env): AnalyticsConfig {
  const config = loadConfigWithSecrets(configSchema, analyticsSecrets, environment);
  const kafkaBrokers = config.KAFKA_BROKERS.split(',').map((broker) => broker.trim()).filter(Boolean);
  const problems: string[] = [];
  const collect = <T>(derive: () => T): T | undefined => {
    try {
      return derive();
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
      return undefined;
    }
  };
  const grpcSecurity = collect(() => grpcSecurityOptions(config));
  const kafkaConnection = collect(() => kafkaConnectionOptions(config, kafkaBrokers));
  if (problems.length > 0 || grpcSecurity === undefined || kafkaConnection === undefined) throw new ConfigError(problems);
  return { ...config, kafkaBrokers, grpcSecurity, kafkaConnection };
}
