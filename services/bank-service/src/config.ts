import { env, kafkaConnectionOptions, kafkaSecretSpecs, kafkaSecurityShape, loadConfigWithSecrets, parseAmountMinor, type KafkaConnectionOptions, type SecretSpecs } from '@wallet/platform';
import { grpcSecurityOptions, tlsConfigShape, type GrpcSecurityOptions } from '@wallet/platform/tls';
import { OPERATIONS_TOPIC } from '@wallet/contracts';
import { z } from 'zod';
import { checkOutboxTimeouts } from './outbox/config-checks.js';
import { GROUP_COMMIT_DEFAULTS } from './app/group-commit.js';

/** A decimal amount string ("1000000.00") validated and turned into minor units. */
const amountLimit = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((value, ctx) => {
      try {
        const minor = parseAmountMinor(value);
        if (minor > 0n) return minor;
      } catch {
        // reported below
      }
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a positive amount with at most two decimals` });
      return z.NEVER;
    });

/**
 * Every environment variable bank-service reads, with a default that works
 * locally (the PostgreSQL started by `npm start` / `npm test`).
 */
export const bankConfigSchema = z.object({
  BANK_GRPC_HOST: env.host('127.0.0.1'),
  BANK_GRPC_PORT: env.port(50051),
  BANK_OPS_HOST: env.host('127.0.0.1'),
  BANK_OPS_PORT: env.port(9101),
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: env.logLevel(),
  /** Access tokens (metadata authorization: Bearer) are verified against this issuer's discovery + JWKS. Shared names, unprefixed. */
  AUTH_ISSUER: z.url().default('http://127.0.0.1:8090'),
  AUTH_AUDIENCE: env.string('wallet-api'),
  /** Claim (name or dotted path) holding the roles: `roles` for the identity-service, `realm_access.roles` for Keycloak. */
  AUTH_ROLES_CLAIM: env.string('roles'),
  /** Mutual TLS on the gRPC port (required): TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE, TLS_RELOAD_INTERVAL_MS. */
  ...tlsConfigShape,
  /** Account owners kept in memory (owners never change): transfers check ownership without a query. */
  BANK_OWNER_CACHE_SIZE_MAX: env.int(100_000, 1, 10_000_000),
  /** A secret (it carries the password): DATABASE_URL or DATABASE_URL_FILE; from a file when NODE_ENV=production. */
  DATABASE_URL: z.string().min(1),
  /** Connections in the pool; PostgreSQL itself serialises on row locks, so more is rarely faster. */
  BANK_DATABASE_CONNECTIONS_MAX: env.int(20, 1, 500),
  /** Requests allowed to wait for a connection; beyond it they are shed at once with UNAVAILABLE. */
  BANK_DATABASE_QUEUE_SIZE_MAX: env.int(1_000, 1, 100_000),
  /** Bound on waiting for a pooled connection (including connecting). */
  BANK_DATABASE_CONNECT_TIMEOUT_MS: env.int(2_000, 100, 60_000),
  /** Server-side statement_timeout and lock wait bound for every query. */
  BANK_DATABASE_STATEMENT_TIMEOUT_MS: env.int(5_000, 100, 600_000),
  /** A transaction left idle this long (a stuck process) is ended by PostgreSQL. */
  BANK_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: env.int(10_000, 1_000, 600_000),
  BANK_MIGRATE_ON_START: env.bool(true),
  /** Largest amount one transfer may move (decimal string in the account currency). */
  BANK_TRANSFER_AMOUNT_MAX: amountLimit('1000000.00'),
  /** Largest amount one deposit (card top-up) may credit. */
  BANK_DEPOSIT_AMOUNT_MAX: amountLimit('1000000.00'),
  /** Group commit: concurrent transfers share one transaction and one commit (hot accounts). */
  BANK_GROUP_COMMIT_ENABLED: env.bool(GROUP_COMMIT_DEFAULTS.enabled),
  /** Transfers per batch (one transaction). */
  BANK_GROUP_COMMIT_BATCH_SIZE_MAX: env.int(GROUP_COMMIT_DEFAULTS.maxBatch, 1, 1_000),
  /** Transfers allowed to wait for a batch; more are shed at once with UNAVAILABLE. */
  BANK_GROUP_COMMIT_QUEUE_SIZE_MAX: env.int(GROUP_COMMIT_DEFAULTS.queueMax, 1, 100_000),
  /** Batches running at the same time (each holds one pooled connection; capped at BANK_DATABASE_CONNECTIONS_MAX). */
  BANK_GROUP_COMMIT_WORKERS: env.int(GROUP_COMMIT_DEFAULTS.workers, 1, 500),
  /** Wait this long for a batch to fill before running a partial one; 0 = run what is queued at once. */
  BANK_GROUP_COMMIT_LINGER_MS: env.int(GROUP_COMMIT_DEFAULTS.lingerMs, 0, 1_000),
  /** Kafka bootstrap servers (comma-separated host:port) the outbox relay publishes to. */
  KAFKA_BROKERS: env.string('127.0.0.1:9092'),
  BANK_KAFKA_CLIENT_ID: env.string('bank-service'),
  BANK_KAFKA_OPERATIONS_TOPIC: env.string(OPERATIONS_TOPIC),
  /** Kafka TLS and SASL of the outbox producer (KAFKA_TLS*, KAFKA_SASL_*; platform kafka-security.ts). */
  ...kafkaSecurityShape,
  /** Timeout of each Kafka request (connect, metadata, produce). */
  BANK_KAFKA_REQUEST_TIMEOUT_MS: env.int(5_000, 100, 120_000),
  /** Which replica this is, for logs and the relay session's application_name (bank-service/<id>); unset: the process id. */
  BANK_REPLICA_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,50}$/, 'letters, digits, ".", "_" or "-", at most 50 (a Kubernetes pod name fits; application_name keeps 63)')
    .optional(),
  /** Run the outbox relay in this process (off for a replica that should only serve gRPC). */
  BANK_OUTBOX_RELAY_ENABLED: env.bool(true),
  /** Events per Kafka send. */
  BANK_OUTBOX_BATCH_SIZE_MAX: env.int(500, 1, 5_000),
  /** Poll for rows committed by other replicas when not woken by a local commit. */
  BANK_OUTBOX_POLL_INTERVAL_MS: env.int(200, 10, 60_000),
  /** A send not acknowledged within this bound is abandoned and retried. */
  BANK_OUTBOX_PUBLISH_TIMEOUT_MS: env.int(15_000, 100, 300_000),
  BANK_OUTBOX_RETRY_DELAY_MS_MIN: env.int(200, 10, 60_000),
  BANK_OUTBOX_RETRY_DELAY_MS_MAX: env.int(10_000, 100, 600_000),
  /** Holds (ADR 0015): the expiry of a hold created without one (7 days). */
  BANK_HOLD_EXPIRY_DEFAULT_MS: env.int(7 * 24 * 3_600_000, 1_000, 365 * 24 * 3_600_000),
  /** The furthest expiry a hold may ask for (30 days). */
  BANK_HOLD_EXPIRY_MS_MAX: env.int(30 * 24 * 3_600_000, 1_000, 365 * 24 * 3_600_000),
  /** How often the expiry sweep looks for pending holds past their expiry. */
  BANK_HOLD_SWEEP_INTERVAL_MS: env.int(1_000, 10, 3_600_000),
  /** Holds released per sweep transaction (several back to back while batches come back full). */
  BANK_HOLD_SWEEP_BATCH_SIZE_MAX: env.int(100, 1, 10_000),
  /** Statements (ADR 0020): entries per keyset chunk and streamed message. */
  BANK_STATEMENT_CHUNK_SIZE_MAX: env.int(500, 1, 10_000),
  /** Entries one statement may hold; a range with more is refused before streaming (INVALID_ARGUMENT entries_max). */
  BANK_STATEMENT_ENTRIES_MAX: env.int(100_000, 1, 10_000_000),
  /** Statements streaming at once (each holds a pooled connection); more are refused with UNAVAILABLE. */
  BANK_STATEMENT_CONCURRENCY_MAX: env.int(4, 1, 100),
  /** A statement whose reader takes no chunk for this long is ended (capped below the idle-in-transaction timeout). */
  BANK_STATEMENT_WRITE_WAIT_MS_MAX: env.int(5_000, 100, 600_000),
  /** Upper bound for graceful shutdown (drain gRPC, close the pool). */
  BANK_SHUTDOWN_TIMEOUT_MS: env.int(10_000, 100, 120_000),
})
  .superRefine(checkOutboxTimeouts)
  .superRefine((config, ctx) => {
    if (config.BANK_HOLD_EXPIRY_DEFAULT_MS > config.BANK_HOLD_EXPIRY_MS_MAX) {
      ctx.addIssue({ code: 'custom', path: ['BANK_HOLD_EXPIRY_DEFAULT_MS'], message: 'must not exceed BANK_HOLD_EXPIRY_MS_MAX' });
    }
  });

/** The local PostgreSQL of `npm start` / `npm test`; refused when NODE_ENV=production. */
export const DEVELOPMENT_DATABASE_URL = 'postgresql://wallet:wallet@127.0.0.1:5432/bank';

/** Secrets of bank-service: each may come from X_FILE, and must when NODE_ENV=production. */
export const BANK_SECRETS: SecretSpecs = {
  DATABASE_URL: { devDefault: DEVELOPMENT_DATABASE_URL },
  ...kafkaSecretSpecs,
};

/** The validated variables, without the gRPC transport choice (the command line tools serve no gRPC). */
export type BankSettings = z.infer<typeof bankConfigSchema>;

export interface BankConfig extends BankSettings {
  /** Mutual-TLS files of the gRPC server (or 'plaintext' under the bench hook WALLET_TEST_GRPC_PLAINTEXT). */
  grpcSecurity: GrpcSecurityOptions;
  /** TLS / SASL options of the outbox producer (kafkaConnectionOptions, files read at load). */
  kafkaConnection: KafkaConnectionOptions;
}

/** Variables and secrets for the command line tools (migrate, seed-accounts): no TLS needed. */
export function loadBankSettings(source: NodeJS.ProcessEnv = process.env): BankSettings {
  return loadConfigWithSecrets(bankConfigSchema, BANK_SECRETS, source);
}

/** Everything the service needs; a ConfigError (exit 2) names each variable to fix, TLS files included. */
export function loadBankConfig(source: NodeJS.ProcessEnv = process.env): BankConfig {
  const settings = loadBankSettings(source);
  const brokers = settings.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean);
  return { ...settings, grpcSecurity: grpcSecurityOptions(settings), kafkaConnection: kafkaConnectionOptions(settings, brokers) };
}
