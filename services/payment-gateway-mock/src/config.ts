import { env, loadConfigWithSecrets, type SecretSpecs } from '@wallet/platform';
import { grpcSecurityOptions, tlsConfigShape, type GrpcSecurityOptions } from '@wallet/platform/tls';
import { z } from 'zod';

/** The API key's local default (the card adapter's CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY default); refused when NODE_ENV=production. */
export const DEVELOPMENT_API_KEY = 'local-dev-payment-gateway-api-key';
/** The database URL's local default (carries a password); refused when NODE_ENV=production. */
export const DEVELOPMENT_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/card_adapter';

/** The only client certificate (SAN DNS) the API accepts: the mock stands for a provider that serves one merchant. */
export const ALLOWED_CALLERS: readonly string[] = ['bank-card-adapter'];

/**
 * Every environment variable the payment gateway mock reads, with a default
 * that works locally. Exported so the compose check can compare it with compose files.
 */
export const configSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: env.logLevel(),
  PAYMENT_GATEWAY_MOCK_HTTP_HOST: env.host('127.0.0.1'),
  /** The API port: HTTPS with client certificates (mutual TLS). */
  PAYMENT_GATEWAY_MOCK_HTTP_PORT: env.port(9104),
  /** Plain HTTP /healthz, /readyz, /metrics for orchestrators (no data, no card). */
  PAYMENT_GATEWAY_MOCK_OPS_HOST: env.host('127.0.0.1'),
  PAYMENT_GATEWAY_MOCK_OPS_PORT: env.port(9106),
  ...tlsConfigShape,
  /** What a merchant presents (Authorization: Bearer); a secret (PAYMENT_GATEWAY_MOCK_API_KEY_FILE). */
  PAYMENT_GATEWAY_MOCK_API_KEY: z.string().min(16).max(1024),
  DATABASE_URL: z.string().min(1),
  PAYMENT_GATEWAY_MOCK_DATABASE_CONNECTIONS_MAX: env.int(5, 1, 100),
  PAYMENT_GATEWAY_MOCK_DATABASE_STATEMENT_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  PAYMENT_GATEWAY_MOCK_MIGRATE_ON_START: env.bool(true),
  /** Simulated latency of every call. */
  PAYMENT_GATEWAY_MOCK_LATENCY_MS: env.int(0, 0, 60_000),
  /** Probability 0..1 that a charge or refund fails as "not processed" (a simulation knob, not money). */
  PAYMENT_GATEWAY_MOCK_FAILURE_RATE: z.coerce.number().min(0).max(1).default(0),
  PAYMENT_GATEWAY_MOCK_SEED: env.int(42, 0, 2 ** 31 - 1),
  /** When the "charge late" test card's charge lands, after the call. */
  PAYMENT_GATEWAY_MOCK_LATE_CHARGE_DELAY_MS: env.int(30_000, 0, 3_600_000),
  /** A request body larger than this is refused (400). */
  PAYMENT_GATEWAY_MOCK_BODY_BYTES_MAX: env.int(16 * 1024, 1_024, 1024 * 1024),
  PAYMENT_GATEWAY_MOCK_SHUTDOWN_TIMEOUT_MS: env.int(5_000, 100, 120_000),
});

/** Secrets: each may come from X_FILE, and must when NODE_ENV=production (dev defaults refused there). */
export const CONFIG_SECRETS: SecretSpecs = {
  DATABASE_URL: { devDefault: DEVELOPMENT_DATABASE_URL },
  PAYMENT_GATEWAY_MOCK_API_KEY: { devDefault: DEVELOPMENT_API_KEY },
};

export type RawConfig = z.infer<typeof configSchema>;

export interface Config extends RawConfig {
  /** The TLS files (mutual TLS, required), or 'plaintext' under the bench-only hook WALLET_TEST_GRPC_PLAINTEXT. */
  tls: GrpcSecurityOptions;
}

/** Reads and checks the environment; a ConfigError names every bad variable (runService exits 2). */
export function loadMockConfig(environment: NodeJS.ProcessEnv = process.env): Config {
  const raw = loadConfigWithSecrets(configSchema, CONFIG_SECRETS, environment);
  return { ...raw, tls: grpcSecurityOptions(raw) };
}
