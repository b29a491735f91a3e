import { env } from '@wallet/platform';
import { z } from 'zod';

/**
 * Every environment variable the payment gateway mock reads, with a default
 * that works locally. Exported so the compose check can compare it with compose files.
 */
export const configSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  PAYMENT_GATEWAY_MOCK_HTTP_HOST: env.host('127.0.0.1'),
  PAYMENT_GATEWAY_MOCK_HTTP_PORT: env.port(9104),
  DATABASE_URL: env.string('postgres://postgres:postgres@127.0.0.1:5432/card_adapter'),
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

export type Config = z.infer<typeof configSchema>;
