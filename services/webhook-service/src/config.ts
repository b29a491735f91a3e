import { OPERATIONS_TOPIC } from '@wallet/contracts';
import { ConfigError, env, kafkaConnectionOptions, kafkaSecretSpecs, kafkaSecurityShape, loadConfigWithSecrets, type KafkaConnectionOptions, type SecretSpecs } from '@wallet/platform';
import { grpcSecurityOptions, tlsConfigShape, type GrpcSecurityOptions } from '@wallet/platform/tls';
import { z } from 'zod';
import { parseSecretKey } from './domain/secret-box.js';

/** The database URL's local default (it carries a password); refused when NODE_ENV=production. */
export const DEVELOPMENT_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/webhooks';
/** The secret-encryption key's local default (base64 of 32 bytes); refused when NODE_ENV=production. */
export const DEVELOPMENT_SECRET_KEY = 'bG9jYWwtZGV2LXdlYmhvb2stc2VjcmV0LWtleS0zMmI=';

/**
 * Every environment variable the webhook-service reads, with a default that
 * works locally (README table). Exported for the compose consistency check.
 */
export const configSchema = z
  .object({
    NODE_ENV: z.string().default('development'),
    LOG_LEVEL: env.logLevel(),
    WEBHOOK_GRPC_HOST: env.host('127.0.0.1'),
    WEBHOOK_GRPC_PORT: env.port(50054),
    WEBHOOK_OPS_HOST: env.host('127.0.0.1'),
    WEBHOOK_OPS_PORT: env.port(9107),
    /** A secret (it carries the password): DATABASE_URL_FILE in production. */
    DATABASE_URL: z.string().min(1),
    WEBHOOK_DATABASE_CONNECTIONS_MAX: env.int(10, 2, 100),
    WEBHOOK_DATABASE_STATEMENT_TIMEOUT_MS: env.int(5_000, 100, 60_000),
    WEBHOOK_MIGRATE_ON_START: env.bool(true),

    KAFKA_BROKERS: env.string('127.0.0.1:9092'),
    WEBHOOK_KAFKA_CLIENT_ID: env.string('webhook-service'),
    WEBHOOK_KAFKA_GROUP_ID: env.string('webhook-service'),
    WEBHOOK_KAFKA_OPERATIONS_TOPIC: env.string(OPERATIONS_TOPIC),
    WEBHOOK_KAFKA_SESSION_TIMEOUT_MS: env.int(10_000, 6_000, 300_000),
    WEBHOOK_KAFKA_HEARTBEAT_INTERVAL_MS: env.int(1_000, 100, 60_000),
    WEBHOOK_KAFKA_FETCH_WAIT_MS_MAX: env.int(500, 10, 30_000),
    WEBHOOK_KAFKA_REQUEST_TIMEOUT_MS: env.int(10_000, 1_000, 120_000),
    /** Events fanned out in one transaction. */
    WEBHOOK_CONSUMER_BATCH_SIZE_MAX: env.int(200, 1, 5_000),
    ...kafkaSecurityShape,

    /** The bank (GetAccountOwners), over mutual TLS. */
    WEBHOOK_BANK_GRPC_ADDRESS: env.grpcTarget('127.0.0.1:50051'),
    WEBHOOK_BANK_TIMEOUT_MS: env.int(3_000, 50, 60_000),
    /** Account owners kept in memory (owners never change). */
    WEBHOOK_OWNER_CACHE_SIZE_MAX: env.int(100_000, 1, 10_000_000),

    ...tlsConfigShape,
    AUTH_ISSUER: z.url().default('http://127.0.0.1:8090'),
    AUTH_AUDIENCE: env.string('wallet-api'),
    AUTH_ROLES_CLAIM: env.string('roles'),

    /** Key (base64 of 32 bytes) that encrypts endpoint secrets at rest: WEBHOOK_SECRET_KEY_FILE in production. */
    WEBHOOK_SECRET_KEY: z.string().min(1),
    /** Accept http://127.0.0.1 / [::1] / localhost endpoints (tests, npm start); refused when NODE_ENV=production. */
    WEBHOOK_ALLOW_LOOPBACK_URLS: env.bool(false),
    WEBHOOK_ENDPOINTS_PER_OWNER_MAX: env.int(20, 1, 1_000),
    // How long a rotated-out secret keeps signing (beside the new one) when the rotation names no grace period.
    WEBHOOK_SECRET_ROTATION_GRACE_MS: env.int(86_400_000, 0, 7 * 86_400_000),
    /** Deadline of one delivery attempt (connect + answer). */
    WEBHOOK_DELIVERY_TIMEOUT_MS: env.int(10_000, 100, 120_000),
    /** A delivery is retried with backoff for this long, then marked failed. */
    WEBHOOK_RETRY_WINDOW_MS: env.int(86_400_000, 1_000, 7 * 86_400_000),
    WEBHOOK_RETRY_DELAY_MS_MIN: env.int(5_000, 10, 3_600_000),
    WEBHOOK_RETRY_DELAY_MS_MAX: env.int(3_600_000, 10, 86_400_000),
    /** How often the dispatcher looks for due deliveries when idle. */
    WEBHOOK_DISPATCH_INTERVAL_MS: env.int(500, 10, 60_000),
    WEBHOOK_DISPATCH_BATCH_SIZE_MAX: env.int(50, 1, 1_000),
    WEBHOOK_DISPATCH_CONCURRENCY_MAX: env.int(16, 1, 256),
    /** Sends in flight to one endpoint at most, per replica: one slow receiver cannot take every slot. */
    WEBHOOK_DISPATCH_ENDPOINT_CONCURRENCY_MAX: env.int(4, 1, 256),
    WEBHOOK_SHUTDOWN_TIMEOUT_MS: env.int(10_000, 100, 120_000),
  })
  .superRefine((config, ctx) => {
    if (config.NODE_ENV === 'production' && config.WEBHOOK_ALLOW_LOOPBACK_URLS) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_ALLOW_LOOPBACK_URLS'], message: 'refused when NODE_ENV=production (SSRF protection)' });
    }
    if (config.WEBHOOK_DISPATCH_ENDPOINT_CONCURRENCY_MAX > config.WEBHOOK_DISPATCH_CONCURRENCY_MAX) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_DISPATCH_ENDPOINT_CONCURRENCY_MAX'], message: 'must not exceed WEBHOOK_DISPATCH_CONCURRENCY_MAX' });
    }
    if (config.WEBHOOK_RETRY_DELAY_MS_MIN > config.WEBHOOK_RETRY_DELAY_MS_MAX) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_RETRY_DELAY_MS_MIN'], message: 'must not exceed WEBHOOK_RETRY_DELAY_MS_MAX' });
    }
    if (config.WEBHOOK_KAFKA_HEARTBEAT_INTERVAL_MS * 3 > config.WEBHOOK_KAFKA_SESSION_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_KAFKA_HEARTBEAT_INTERVAL_MS'], message: 'must be at most a third of WEBHOOK_KAFKA_SESSION_TIMEOUT_MS' });
    }
  });

/** Secrets: X may come from X_FILE, and must in production. */
export const CONFIG_SECRETS: SecretSpecs = {
  DATABASE_URL: { devDefault: DEVELOPMENT_DATABASE_URL },
  WEBHOOK_SECRET_KEY: { devDefault: DEVELOPMENT_SECRET_KEY },
  ...kafkaSecretSpecs,
};

export type RawConfig = z.infer<typeof configSchema>;

export interface Config extends RawConfig {
  kafkaBrokers: string[];
  kafkaConnection: KafkaConnectionOptions;
  security: GrpcSecurityOptions;
  secretKey: Buffer;
}

/** Reads and checks the environment; a ConfigError names every bad variable (runService exits 2). */
export function loadWebhookConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const raw = loadConfigWithSecrets(configSchema, CONFIG_SECRETS, environment);
  const kafkaBrokers = raw.KAFKA_BROKERS.split(',').map((broker) => broker.trim()).filter(Boolean);
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
  const security = collect(() => grpcSecurityOptions(raw));
  const kafkaConnection = collect(() => kafkaConnectionOptions(raw, kafkaBrokers));
  let secretKey: Buffer | undefined;
  try {
    secretKey = parseSecretKey(raw.WEBHOOK_SECRET_KEY);
  } catch (error) {
    // Never the value itself: it is the key.
    problems.push(`WEBHOOK_SECRET_KEY: ${(error as Error).message}`);
  }
  if (problems.length > 0 || !security || !kafkaConnection || !secretKey) throw new ConfigError(problems);
  return { ...raw, kafkaBrokers, kafkaConnection, security, secretKey };
}
