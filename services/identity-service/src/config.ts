import { ConfigError, env, loadConfig } from '@wallet/platform';
import { z } from 'zod';

/** Access tokens live at most 15 minutes (issue 10): a stolen one is useful only briefly. */
export const ACCESS_TOKEN_TTL_SECONDS_MAX = 900;

/** Used only outside production so `npm start` works with no setup; production must set its own. */
export const DEV_KEY_ENCRYPTION_SECRET = 'dev-only-identity-key-encryption-secret-change-me';

/**
 * Every environment variable the identity service reads, with a default that
 * works locally. Exported so the compose check can compare it with compose files.
 */
export const configSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: env.logLevel(),
  IDENTITY_HTTP_HOST: env.host('127.0.0.1'),
  IDENTITY_HTTP_PORT: env.port(8090),
  IDENTITY_OPS_HOST: env.host('127.0.0.1'),
  IDENTITY_OPS_PORT: env.port(9105),
  IDENTITY_ISSUER: z.url().default('http://127.0.0.1:8090'),
  IDENTITY_AUDIENCE: env.string('wallet-api'),
  DATABASE_URL: env.string('postgres://postgres:postgres@127.0.0.1:5432/wallet'),
  IDENTITY_DATABASE_CONNECTIONS_MAX: env.int(5, 1, 100),
  IDENTITY_DATABASE_STATEMENT_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  IDENTITY_MIGRATE_ON_START: env.bool(true),
  IDENTITY_ACCESS_TOKEN_TTL_SECONDS: env.int(ACCESS_TOKEN_TTL_SECONDS_MAX, 5, ACCESS_TOKEN_TTL_SECONDS_MAX),
  IDENTITY_REFRESH_TOKEN_TTL_SECONDS: env.int(30 * 24 * 3600, 60, 365 * 24 * 3600),
  /** Consecutive failed logins of one username (within the window) that lock it. */
  IDENTITY_LOGIN_FAILURES_MAX: env.int(10, 1, 1_000),
  IDENTITY_LOGIN_FAILURE_WINDOW_MS: env.int(15 * 60_000, 1_000, 24 * 3_600_000),
  /** How long a lock lasts; it always expires (an attacker cannot lock a user out for good). */
  IDENTITY_LOGIN_LOCK_MS: env.int(15 * 60_000, 1_000, 24 * 3_600_000),
  /** Password hashes computed at once (argon2id is CPU- and memory-heavy). */
  IDENTITY_PASSWORD_HASH_CONCURRENCY_MAX: env.int(2, 1, 64),
  /** Hash requests waiting for a slot; beyond this the request is refused with 503. */
  IDENTITY_PASSWORD_HASH_QUEUE_MAX: env.int(32, 0, 10_000),
  /** A request waiting longer than this for a hashing slot is refused with 503. */
  IDENTITY_PASSWORD_HASH_QUEUE_WAIT_MS_MAX: env.int(5_000, 10, 60_000),
  /** argon2id memory in KiB (OWASP: 19 MiB with t=2, p=1). */
  IDENTITY_ARGON2_MEMORY_KIB: env.int(19_456, 1_024, 1_048_576),
  IDENTITY_ARGON2_ITERATIONS: env.int(2, 1, 20),
  IDENTITY_BODY_BYTES_MAX: env.int(8 * 1024, 1_024, 1024 * 1024),
  IDENTITY_HTTP_REQUEST_TIMEOUT_MS: env.int(15_000, 1_000, 120_000),
  /** Secret that encrypts the private signing keys stored in the database (AES-256-GCM). Required in production. */
  IDENTITY_KEY_ENCRYPTION_SECRET: env.optionalString(),
  /** PEM PKCS#8 private key (EC P-256 or Ed25519); when set, keys come from files, not the database. */
  IDENTITY_SIGNING_KEY_FILE: env.optionalString(),
  /** PEM of the previous key (public or private), still published until tokens it signed expire. */
  IDENTITY_SIGNING_KEY_PREVIOUS_FILE: env.optionalString(),
  IDENTITY_SIGNING_KEY_ALGORITHM: z.enum(['ES256', 'EdDSA']).default('ES256'),
  /** A database key older than this is replaced by a new one; 0 = rotate only by command. */
  IDENTITY_SIGNING_KEY_ROTATION_INTERVAL_MS: env.int(30 * 24 * 3_600_000, 0, 365 * 24 * 3_600_000),
  /** How often each replica reloads the keys (and rotates when due). */
  IDENTITY_SIGNING_KEY_REFRESH_MS: env.int(60_000, 100, 3_600_000),
  /** JSON file [{clientId, clientSecret, roles, scopes}] of back-office/service clients, upserted at start. */
  IDENTITY_CLIENTS_FILE: env.optionalString(),
  /** First-party public clients that may use the password grant with a client_id and no secret. */
  IDENTITY_PUBLIC_CLIENT_IDS: env.string('wallet-cli,swagger-ui'),
  /** Seed the development users and the dev back-office client. Never on by default. */
  IDENTITY_SEED_DEV_USERS: env.bool(false),
  IDENTITY_SHUTDOWN_TIMEOUT_MS: env.int(5_000, 100, 120_000),
});

export type Config = z.infer<typeof configSchema>;

/** Rules across variables that a field schema cannot say. */
function crossFieldProblems(config: Config): string[] {
  const problems: string[] = [];
  const production = config.NODE_ENV === 'production';
  if (production && !config.IDENTITY_SIGNING_KEY_FILE && !config.IDENTITY_KEY_ENCRYPTION_SECRET) {
    problems.push('IDENTITY_KEY_ENCRYPTION_SECRET: required when NODE_ENV=production (or set IDENTITY_SIGNING_KEY_FILE)');
  }
  if (config.IDENTITY_KEY_ENCRYPTION_SECRET !== undefined && config.IDENTITY_KEY_ENCRYPTION_SECRET.length < 32) {
    problems.push('IDENTITY_KEY_ENCRYPTION_SECRET: must be at least 32 characters');
  }
  if (config.IDENTITY_SIGNING_KEY_PREVIOUS_FILE && !config.IDENTITY_SIGNING_KEY_FILE) {
    problems.push('IDENTITY_SIGNING_KEY_PREVIOUS_FILE: needs IDENTITY_SIGNING_KEY_FILE');
  }
  return problems;
}

export function loadIdentityConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const config = loadConfig(configSchema, source);
  const problems = crossFieldProblems(config);
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The secret that encrypts stored private keys: the configured one, or the dev default outside production. */
export function keyEncryptionSecret(config: Config): string {
  return config.IDENTITY_KEY_ENCRYPTION_SECRET ?? DEV_KEY_ENCRYPTION_SECRET;
}
