import { env, parseAmountMinor } from '@wallet/platform';
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

/** Probability 0..1 (not money: a simulation knob of the mock gateway). */
const rate = (fallback: number) => z.coerce.number().min(0).max(1).default(fallback);

/**
 * Every environment variable the bank-card-adapter reads, with a default that
 * works locally. Exported so the compose check can compare it with compose files.
 */
export const configSchema = z.object({
  LOG_LEVEL: env.logLevel(),
  GRPC_HOST: env.host('127.0.0.1'),
  GRPC_PORT: env.port(50052),
  OPS_HOST: env.host('127.0.0.1'),
  OPS_PORT: env.port(9102),
  DATABASE_URL: env.string('postgres://postgres:postgres@127.0.0.1:5432/card_adapter'),
  DB_POOL_MAX: env.int(10, 1, 100),
  DB_STATEMENT_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  MIGRATE_ON_START: env.bool(true),

  BANK_GRPC_ADDRESS: env.string('127.0.0.1:50051'),
  /** Deadline of every bank call (GetBalance, DepositMoney). */
  BANK_TIMEOUT_MS: env.int(3_000, 50, 60_000),

  /** When set, the payment gateway is reached over HTTP (e.g. the mock server); otherwise the mock runs in-process. */
  PAYMENT_GATEWAY_URL: z.url().optional(),
  /** Deadline of every payment gateway call. */
  PAYMENT_GATEWAY_TIMEOUT_MS: env.int(5_000, 50, 120_000),
  /** In-process mock only: simulated latency and failure rate (0 = deterministic), seeded RNG. */
  MOCK_GATEWAY_LATENCY_MS: env.int(0, 0, 60_000),
  MOCK_GATEWAY_FAILURE_RATE: rate(0),
  MOCK_GATEWAY_SEED: env.int(42, 0, 2 ** 31 - 1),

  /** Keyed hash of card numbers for idempotency comparisons; change it in every real deployment. */
  CARD_FINGERPRINT_SECRET: z.string().min(16).default('local-dev-card-fingerprint-secret'),

  TOP_UP_MIN_AMOUNT: decimalAmount('1.00'),
  TOP_UP_MAX_AMOUNT: decimalAmount('10000.00'),

  /** Charge attempts per request (same idempotency key) when the outcome is unknown or the gateway fails. */
  CHARGE_ATTEMPTS: env.int(2, 1, 10),
  /** After this long without an answer, a charge the gateway has no record of is known never to have happened. */
  CHARGE_RESOLUTION_GRACE_MS: env.int(10_000, 0, 3_600_000),
  DEPOSIT_ATTEMPTS: env.int(4, 1, 20),
  DEPOSIT_RETRY_BUDGET_MS: env.int(10_000, 0, 300_000),
  REFUND_ATTEMPTS: env.int(3, 1, 20),
  RETRY_BASE_DELAY_MS: env.int(100, 1, 10_000),
  RETRY_MAX_DELAY_MS: env.int(2_000, 1, 60_000),
  /** Added to a step's deadline to form the lease that keeps other replicas off a top-up. */
  LEASE_MARGIN_MS: env.int(2_000, 100, 60_000),

  RECOVERY_ENABLED: env.bool(true),
  RECOVERY_INTERVAL_MS: env.int(5_000, 50, 3_600_000),
  RECOVERY_BATCH_SIZE: env.int(50, 1, 1_000),

  SHUTDOWN_TIMEOUT_MS: env.int(10_000, 100, 120_000),
  /** Test hook: the process kills itself (SIGKILL) at this point of the saga. Never set in production. */
  TEST_CRASH_POINT: z.enum(['none', 'after_charge_recorded', 'before_charge_recorded', 'after_refund_decided']).default('none'),
});

export type RawConfig = z.infer<typeof configSchema>;

/** Config with amounts converted to exact minor units. */
export interface Config extends RawConfig {
  topUpMinAmountMinor: bigint;
  topUpMaxAmountMinor: bigint;
}

export class InvalidLimitsError extends Error {}

export function toConfig(raw: RawConfig): Config {
  const topUpMinAmountMinor = parseAmountMinor(raw.TOP_UP_MIN_AMOUNT);
  const topUpMaxAmountMinor = parseAmountMinor(raw.TOP_UP_MAX_AMOUNT);
  if (topUpMinAmountMinor > topUpMaxAmountMinor) {
    throw new InvalidLimitsError('TOP_UP_MIN_AMOUNT: must not exceed TOP_UP_MAX_AMOUNT');
  }
  if (raw.RETRY_BASE_DELAY_MS > raw.RETRY_MAX_DELAY_MS) {
    throw new InvalidLimitsError('RETRY_BASE_DELAY_MS: must not exceed RETRY_MAX_DELAY_MS');
  }
  return { ...raw, topUpMinAmountMinor, topUpMaxAmountMinor };
}
