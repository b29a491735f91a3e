import { ConfigError, env, loadConfigWithSecrets, parseAmountMinor, type SecretSpecs } from '@wallet/platform';
import { grpcSecurityOptions, tlsConfigShape, type GrpcSecurityOptions } from '@wallet/platform/tls';
import { z } from 'zod';

/** A decimal amount such as "10000.00", validated and kept as a string (parsed to minor units below). */
const decimalAmount = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((value) => {
      try {
        return parseAmountMinor(value) > 0n;
      } catch {
        return false;
      }
    }, 'must be a positive decimal amount with at most two decimals, e.g. "10000.00"');

/** Crash points of the saga where WALLET_TEST_CRASH_POINT makes the process kill itself. */
export const CRASH_POINTS = ['after_charge_recorded', 'before_charge_recorded', 'after_refund_decided', 'after_deposit_applied', 'after_refund_debited'] as const;

/** The fingerprint secret's local default: accepted only when NODE_ENV is development or test (or unset). */
export const DEVELOPMENT_FINGERPRINT_SECRET = 'local-dev-card-fingerprint-secret';
/** The payment gateway API key's local default (the mock's PAYMENT_GATEWAY_MOCK_API_KEY default); refused when NODE_ENV=production. */
export const DEVELOPMENT_PAYMENT_GATEWAY_API_KEY = 'local-dev-payment-gateway-api-key';
/** The database URL's local default (it carries a password); refused when NODE_ENV=production. */
export const DEVELOPMENT_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/card_adapter';

/** The service name the payment gateway's certificate must carry (SAN DNS) on the HTTPS hop. */
export const PAYMENT_GATEWAY_SERVICE_NAME = 'payment-gateway-mock';

/**
 * Every environment variable the bank-card-adapter reads, with a default that
 * works locally. Exported so the compose check can compare it with compose files.
 */
export const configSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: env.logLevel(),
  CARD_ADAPTER_GRPC_HOST: env.host('127.0.0.1'),
  CARD_ADAPTER_GRPC_PORT: env.port(50052),
  CARD_ADAPTER_OPS_HOST: env.host('127.0.0.1'),
  CARD_ADAPTER_OPS_PORT: env.port(9102),
  /** A secret (it carries the password): DATABASE_URL_FILE in production. */
  DATABASE_URL: z.string().min(1),
  CARD_ADAPTER_DATABASE_CONNECTIONS_MAX: env.int(10, 1, 100),
  CARD_ADAPTER_DATABASE_STATEMENT_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  CARD_ADAPTER_MIGRATE_ON_START: env.bool(true),

  /**
   * The bank's replicas: host:port (one), host:port,host:port (a static list) or dns:///name:port
   * (every A/AAAA record: compose, a Kubernetes headless Service); calls are balanced round_robin over
   * the SERVING ones (clients/bank.ts). The value becomes the grpc-js target.
   */
  CARD_ADAPTER_BANK_GRPC_ADDRESS: env.grpcTarget('127.0.0.1:50051'),
  /** Deadline of every bank call (GetBalance, DepositMoney, GetDeposit). */
  CARD_ADAPTER_BANK_TIMEOUT_MS: env.int(3_000, 50, 60_000),

  /** This service's identity (mutual TLS on the gRPC server, the bank client and the payment gateway client). */
  ...tlsConfigShape,

  /** Access tokens (authorization: Bearer) are verified against this issuer's discovery + JWKS. Shared names, unprefixed. */
  AUTH_ISSUER: z.url().default('http://127.0.0.1:8090'),
  AUTH_AUDIENCE: env.string('wallet-api'),
  /** Claim (name or dotted path) holding the roles: `roles` for the identity-service, `realm_access.roles` for Keycloak. */
  AUTH_ROLES_CLAIM: env.string('roles'),

  /** The payment gateway (locally: services/payment-gateway-mock), reached over HTTPS with this service's certificate. */
  CARD_ADAPTER_PAYMENT_GATEWAY_URL: z.url().default('https://127.0.0.1:9104'),
  /** The merchant's API key at the payment gateway (Authorization: Bearer); a secret. */
  CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: z.string().min(16).max(1024),
  /** Deadline of every payment gateway call. */
  CARD_ADAPTER_PAYMENT_GATEWAY_TIMEOUT_MS: env.int(5_000, 50, 120_000),

  /**
   * Keyed hash of card numbers for idempotency comparisons; a secret. Its
   * development default is refused outside development and test (toConfig).
   */
  CARD_ADAPTER_CARD_FINGERPRINT_SECRET: z.string().min(16),

  CARD_ADAPTER_TOP_UP_AMOUNT_MIN: decimalAmount('1.00'),
  CARD_ADAPTER_TOP_UP_AMOUNT_MAX: decimalAmount('10000.00'),

  /** Charge attempts per request (same idempotency key) when the outcome is unknown or the gateway fails. */
  CARD_ADAPTER_CHARGE_ATTEMPTS_MAX: env.int(2, 1, 10),
  /** After this long without an answer, a charge the gateway has no record of is known never to have happened. */
  CARD_ADAPTER_CHARGE_RESOLUTION_GRACE_MS: env.int(10_000, 0, 3_600_000),
  CARD_ADAPTER_DEPOSIT_ATTEMPTS_MAX: env.int(4, 1, 20),
  /** How long one run keeps retrying a deposit before it asks the bank (GetDeposit) or leaves it to recovery. */
  CARD_ADAPTER_DEPOSIT_RETRY_MS_MAX: env.int(10_000, 0, 300_000),
  CARD_ADAPTER_REFUND_ATTEMPTS_MAX: env.int(3, 1, 20),
  CARD_ADAPTER_RETRY_DELAY_MS_MIN: env.int(100, 1, 10_000),
  CARD_ADAPTER_RETRY_DELAY_MS_MAX: env.int(2_000, 1, 60_000),
  /** Durable backoff of a top-up waiting on the bank or the gateway: first wait, doubling up to the max. */
  CARD_ADAPTER_RECOVERY_DELAY_MS_MIN: env.int(1_000, 10, 600_000),
  CARD_ADAPTER_RECOVERY_DELAY_MS_MAX: env.int(60_000, 10, 3_600_000),
  /** Added to a step's deadline to form the lease that keeps other replicas off a top-up. */
  CARD_ADAPTER_LEASE_MARGIN_MS: env.int(2_000, 100, 60_000),

  CARD_ADAPTER_RECOVERY_ENABLED: env.bool(true),
  CARD_ADAPTER_RECOVERY_INTERVAL_MS: env.int(5_000, 50, 3_600_000),
  CARD_ADAPTER_RECOVERY_BATCH_SIZE_MAX: env.int(50, 1, 1_000),
  /** Failed top-ups younger than this are re-checked at the gateway for a charge that landed late. */
  CARD_ADAPTER_RECONCILIATION_WINDOW_MS: env.int(86_400_000, 1_000, 30 * 86_400_000),
  CARD_ADAPTER_RECONCILIATION_BATCH_SIZE_MAX: env.int(20, 1, 1_000),

  /**
   * Circuit breakers `bank` and `payment_gateway` (one setting for both): open when more than
   * FAILURES_PERCENT_MAX of the calls in the last WINDOW_MS failed for infrastructure reasons (at least
   * CALLS_MIN calls seen); while open, calls are refused unsent; after RESET_TIMEOUT_MS one probe goes through.
   */
  CARD_ADAPTER_BREAKER_RESET_TIMEOUT_MS: env.int(5_000, 100, 600_000),
  CARD_ADAPTER_BREAKER_FAILURES_PERCENT_MAX: env.int(50, 1, 100),
  CARD_ADAPTER_BREAKER_CALLS_MIN: env.int(10, 1, 100_000),
  CARD_ADAPTER_BREAKER_WINDOW_MS: env.int(10_000, 100, 600_000),

  CARD_ADAPTER_SHUTDOWN_TIMEOUT_MS: env.int(10_000, 100, 120_000),
  /** Test hook: the process kills itself (SIGKILL) at this point of the saga. Refused when NODE_ENV=production. */
  WALLET_TEST_CRASH_POINT: env.testHook(CRASH_POINTS),
});

/**
 * Secrets: each may come from X_FILE, and must when NODE_ENV=production (an
 * inline value, a missing one or a development default is refused there).
 */
export const CONFIG_SECRETS: SecretSpecs = {
  DATABASE_URL: { devDefault: DEVELOPMENT_DATABASE_URL },
  CARD_ADAPTER_CARD_FINGERPRINT_SECRET: { devDefault: DEVELOPMENT_FINGERPRINT_SECRET },
  CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: { devDefault: DEVELOPMENT_PAYMENT_GATEWAY_API_KEY },
};

export type RawConfig = z.infer<typeof configSchema>;

/** Config with amounts converted to exact minor units and the transport security chosen. */
export interface Config extends RawConfig {
  topUpAmountMinorMin: bigint;
  topUpAmountMinorMax: bigint;
  cardFingerprintSecret: string;
  /** The TLS files (mutual TLS, required), or 'plaintext' under the bench-only hook WALLET_TEST_GRPC_PLAINTEXT. */
  security: GrpcSecurityOptions;
}

/** A configuration that passes the schema but is inconsistent; a ConfigError, so main handles it alike. */
export class InvalidLimitsError extends ConfigError {
  constructor(problem: string) {
    super([problem]);
    this.name = 'InvalidLimitsError';
  }
}

/** Environments where the built-in fingerprint secret is acceptable. */
const DEVELOPMENT_ENVIRONMENTS = new Set(['development', 'test']);

export function toConfig(raw: RawConfig): Config {
  const topUpAmountMinorMin = parseAmountMinor(raw.CARD_ADAPTER_TOP_UP_AMOUNT_MIN);
  const topUpAmountMinorMax = parseAmountMinor(raw.CARD_ADAPTER_TOP_UP_AMOUNT_MAX);
  if (topUpAmountMinorMin > topUpAmountMinorMax) {
    throw new InvalidLimitsError('CARD_ADAPTER_TOP_UP_AMOUNT_MIN: must not exceed CARD_ADAPTER_TOP_UP_AMOUNT_MAX');
  }
  if (raw.CARD_ADAPTER_RECOVERY_DELAY_MS_MIN > raw.CARD_ADAPTER_RECOVERY_DELAY_MS_MAX) {
    throw new InvalidLimitsError('CARD_ADAPTER_RECOVERY_DELAY_MS_MIN: must not exceed CARD_ADAPTER_RECOVERY_DELAY_MS_MAX');
  }
  if (raw.CARD_ADAPTER_RETRY_DELAY_MS_MIN > raw.CARD_ADAPTER_RETRY_DELAY_MS_MAX) {
    throw new InvalidLimitsError('CARD_ADAPTER_RETRY_DELAY_MS_MIN: must not exceed CARD_ADAPTER_RETRY_DELAY_MS_MAX');
  }
  // A secret everybody can read in the source would make the hashes guessable (production refuses it in
  // loadConfigWithSecrets already; any other environment but development and test refuses it here).
  if (raw.CARD_ADAPTER_CARD_FINGERPRINT_SECRET === DEVELOPMENT_FINGERPRINT_SECRET && !DEVELOPMENT_ENVIRONMENTS.has(raw.NODE_ENV)) {
    throw new InvalidLimitsError(
      `CARD_ADAPTER_CARD_FINGERPRINT_SECRET: required when NODE_ENV=${raw.NODE_ENV} (at least 16 characters; the built-in default is for development only)`,
    );
  }
  const security = grpcSecurityOptions(raw);
  // Card numbers travel on this hop: mutual TLS, except under the bench-only plaintext hook.
  if (security !== 'plaintext' && !raw.CARD_ADAPTER_PAYMENT_GATEWAY_URL.startsWith('https://')) {
    throw new InvalidLimitsError('CARD_ADAPTER_PAYMENT_GATEWAY_URL: must be an https:// URL (card numbers travel on it; mutual TLS)');
  }
  return { ...raw, topUpAmountMinorMin, topUpAmountMinorMax, cardFingerprintSecret: raw.CARD_ADAPTER_CARD_FINGERPRINT_SECRET, security };
}

/** Reads and checks the environment; a ConfigError names every bad variable (runService exits 2). */
export function loadCardAdapterConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  return toConfig(loadConfigWithSecrets(configSchema, CONFIG_SECRETS, environment));
}
