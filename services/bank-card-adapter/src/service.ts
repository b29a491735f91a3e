// Composition root: builds the adapters around the saga and starts the
// servers. main.ts calls it with the environment's config; tests call it
// in-process with fakes for the clock, the bank or the gateway.

import type pg from 'pg';
import {
  createMetricsRegistry,
  redactUrl,
  startGrpcServer,
  startOpsServer,
  type Logger,
  type OpsServer,
  type RunningGrpcServer,
  type ShutdownStep,
} from '@wallet/platform';
import { createTokenVerifier, type TokenVerifier } from '@wallet/platform/auth';
import { createGrpcSecurity, type GrpcSecurity } from '@wallet/platform/tls';
import type { Registry } from 'prom-client';
import { GrpcBank, type Bank } from './clients/bank.js';
import { BreakerBank, BreakerPaymentGateway, createDownstreamBreakers, type BreakerSettings, type DownstreamBreakers } from './clients/breakers.js';
import { HttpPaymentGateway } from './clients/payment-gateway/http.js';
import type { PaymentGateway } from './clients/payment-gateway/types.js';
import { PAYMENT_GATEWAY_SERVICE_NAME, type Config } from './config.js';
import { migrateCardAdapter } from './db/migrations.js';
import { createPool } from '@wallet/platform/db';
import { RefundRepository } from './db/refunds.js';
import { TopUpRepository } from './db/top-ups.js';
import { authorizedServicer } from './grpc/callers.js';
import { createCardAdapterServicer } from './grpc/servicer.js';
import { createAdapterMetrics, type AdapterMetrics } from './metrics.js';
import { RecoveryLoop } from './app/recovery.js';
import type { CrashPoint, SagaContext, SagaSettings } from './app/saga.js';

export interface CardAdapterOverrides {
  gateway?: PaymentGateway;
  bank?: Bank;
  now?: () => Date;
  crashHook?: (point: CrashPoint) => void;
  verifier?: TokenVerifier;
}

export interface RunningCardAdapter {
  grpc: RunningGrpcServer;
  /** This process's identity: mutual TLS for the server, the bank client and the payment gateway client. */
  security: GrpcSecurity;
  ops: OpsServer;
  pool: pg.Pool;
  /** What every use case works with (tests drive the saga through it). */
  ctx: SagaContext;
  recovery: RecoveryLoop;
  repository: TopUpRepository;
  gateway: PaymentGateway;
  metrics: AdapterMetrics;
  /** The `bank` and `payment_gateway` circuit breakers (tests read and drive their state). */
  breakers: DownstreamBreakers;
  registry: Registry;
  /** Logged with the 'started' line: ports and addresses, never secrets. */
  info: Record<string, unknown>;
  /** Shutdown steps in order: stop accepting, drain, stop recovery, close clients and pool. */
  shutdownSteps: ShutdownStep[];
  stop(): Promise<void>;
}

export function sagaSettings(config: Config): SagaSettings {
  return {
    limits: { minAmountMinor: config.topUpAmountMinorMin, maxAmountMinor: config.topUpAmountMinorMax },
    fingerprintSecret: config.cardFingerprintSecret,
    gatewayTimeoutMs: config.CARD_ADAPTER_PAYMENT_GATEWAY_TIMEOUT_MS,
    bankTimeoutMs: config.CARD_ADAPTER_BANK_TIMEOUT_MS,
    chargeAttemptsMax: config.CARD_ADAPTER_CHARGE_ATTEMPTS_MAX,
    chargeResolutionGraceMs: config.CARD_ADAPTER_CHARGE_RESOLUTION_GRACE_MS,
    depositAttemptsMax: config.CARD_ADAPTER_DEPOSIT_ATTEMPTS_MAX,
    depositRetryMsMax: config.CARD_ADAPTER_DEPOSIT_RETRY_MS_MAX,
    refundAttemptsMax: config.CARD_ADAPTER_REFUND_ATTEMPTS_MAX,
    retryDelayMsMin: config.CARD_ADAPTER_RETRY_DELAY_MS_MIN,
    retryDelayMsMax: config.CARD_ADAPTER_RETRY_DELAY_MS_MAX,
    waitDelayMsMin: config.CARD_ADAPTER_RECOVERY_DELAY_MS_MIN,
    waitDelayMsMax: config.CARD_ADAPTER_RECOVERY_DELAY_MS_MAX,
    leaseMarginMs: config.CARD_ADAPTER_LEASE_MARGIN_MS,
  };
}

export function breakerSettings(config: Config): BreakerSettings {
  return {
    resetTimeoutMs: config.CARD_ADAPTER_BREAKER_RESET_TIMEOUT_MS,
    errorThresholdPercentage: config.CARD_ADAPTER_BREAKER_FAILURES_PERCENT_MAX,
    volumeThreshold: config.CARD_ADAPTER_BREAKER_CALLS_MIN,
    rollingCountTimeoutMs: config.CARD_ADAPTER_BREAKER_WINDOW_MS,
  };
}

export async function startCardAdapter(config: Config, logger: Logger, overrides: CardAdapterOverrides = {}): Promise<RunningCardAdapter> {
  const registry = createMetricsRegistry('bank-card-adapter');
  // First: unusable certificate files stop the start before anything else is opened.
  const security = createGrpcSecurity(config.security, { logger, metrics: registry });
  try {
    return await startWithSecurity(config, logger, overrides, security, registry);
  } catch (error) {
    security.close();
    throw error;
  }
}

async function startWithSecurity(
  config: Config,
  logger: Logger,
  overrides: CardAdapterOverrides,
  security: GrpcSecurity,
  registry: Registry,
): Promise<RunningCardAdapter> {
  const pool = createPool(
    {
      connectionString: config.DATABASE_URL,
      connectionsMax: config.CARD_ADAPTER_DATABASE_CONNECTIONS_MAX,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: config.CARD_ADAPTER_DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.CARD_ADAPTER_DATABASE_STATEMENT_TIMEOUT_MS * 2,
      applicationName: 'bank-card-adapter',
    },
    logger,
  );
  try {
    if (config.CARD_ADAPTER_MIGRATE_ON_START) await migrateCardAdapter(config.DATABASE_URL, logger);
  } catch (error) {
    await pool.end();
    throw error;
  }

  const repository = new TopUpRepository(pool);
  const metrics = createAdapterMetrics(registry, { read: () => repository.unfinishedSummary(), logger });
  const breakers = createDownstreamBreakers(breakerSettings(config), registry, logger);
  // Overrides (test doubles) go behind the breakers too: the breaker is part of what tests exercise.
  const rawGateway =
    overrides.gateway ??
    new HttpPaymentGateway(config.CARD_ADAPTER_PAYMENT_GATEWAY_URL, config.CARD_ADAPTER_PAYMENT_GATEWAY_TIMEOUT_MS, {
      apiKey: config.CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY,
      tls: security.mtls?.provider ?? null,
      serverServiceName: PAYMENT_GATEWAY_SERVICE_NAME,
      durationSeconds: metrics.gatewayDuration,
    });
  const gateway = new BreakerPaymentGateway(rawGateway, breakers.paymentGateway);
  const rawBank = overrides.bank ?? new GrpcBank(config.CARD_ADAPTER_BANK_GRPC_ADDRESS, config.CARD_ADAPTER_BANK_TIMEOUT_MS, security.client('bank-service'), registry);
  const bank = new BreakerBank(rawBank, breakers.bank);
  const verifier =
    overrides.verifier ??
    createTokenVerifier({
      issuer: config.AUTH_ISSUER,
      registry,
      audience: config.AUTH_AUDIENCE,
      rolesClaim: config.AUTH_ROLES_CLAIM,
      // An https issuer (the identity-service on its certificate) is verified against the internal CA, rotation included.
      ...(security.mtls ? { caCertificates: () => security.mtls!.provider.current().ca } : {}),
    });
  const ctx: SagaContext = {
    repository,
    refunds: new RefundRepository(pool),
    gateway,
    bank,
    settings: sagaSettings(config),
    logger,
    metrics,
    now: overrides.now ?? (() => new Date()),
    crashHook: overrides.crashHook,
  };
  const recovery = new RecoveryLoop(ctx, {
    intervalMs: config.CARD_ADAPTER_RECOVERY_INTERVAL_MS,
    batchSizeMax: config.CARD_ADAPTER_RECOVERY_BATCH_SIZE_MAX,
    reconciliation: { windowMs: config.CARD_ADAPTER_RECONCILIATION_WINDOW_MS, batchSizeMax: config.CARD_ADAPTER_RECONCILIATION_BATCH_SIZE_MAX },
  });

  const grpc = await startGrpcServer({
    host: config.CARD_ADAPTER_GRPC_HOST,
    port: config.CARD_ADAPTER_GRPC_PORT,
    services: [authorizedServicer(security, createCardAdapterServicer({ ctx, logger, metrics, verifier }), { logger, metrics })],
    credentials: security.serverCredentials(),
    registry,
  });
  let dependencies: Record<string, string> = {};
  const ops = await startOpsServer({
    host: config.CARD_ADAPTER_OPS_HOST,
    port: config.CARD_ADAPTER_OPS_PORT,
    registry,
    readiness: async () => {
      const check = async (run: () => Promise<unknown>) => {
        try {
          await run();
          return 'ok';
        } catch (error) {
          return String((error as Error)?.message ?? error);
        }
      };
      // Only this replica's own journal decides readiness. The bank and the payment gateway are shared by
      // every replica: were they checks, their outage would take all replicas out of the load balancer
      // (and GetTopUp, replays and fast refusals with them). They are reported in the detail instead.
      const [database, bankCheck, gatewayCheck] = await Promise.all([
        check(() => pool.query('SELECT 1')),
        check(() => bank.ping(1_000)),
        check(() => gateway.ping()),
      ]);
      dependencies = { bank: bankCheck, paymentGateway: gatewayCheck };
      return { database };
    },
    detail: () => ({ dependencies, breakers: breakers.states() }),
  });
  if (config.CARD_ADAPTER_RECOVERY_ENABLED) recovery.start();
  const info = {
    grpcPort: grpc.port,
    opsPort: ops.port,
    bank: config.CARD_ADAPTER_BANK_GRPC_ADDRESS,
    authIssuer: config.AUTH_ISSUER,
    paymentGateway: redactUrl(config.CARD_ADAPTER_PAYMENT_GATEWAY_URL),
    database: redactUrl(config.DATABASE_URL),
    transportSecurity: security.mode,
  };

  const shutdownSteps: ShutdownStep[] = [
    { name: 'grpc', run: () => grpc.shutdown(Math.floor(config.CARD_ADAPTER_SHUTDOWN_TIMEOUT_MS / 2)) },
    { name: 'recovery', run: () => recovery.stop() },
    { name: 'ops', run: () => ops.close() },
    { name: 'bank client', run: () => bank.close() },
    { name: 'payment gateway client', run: () => gateway.close() },
    { name: 'circuit breakers', run: async () => breakers.shutdown() },
    { name: 'database pool', run: () => pool.end() },
    // Last: the certificate provider stops reloading once no server or client uses it.
    { name: 'tls', run: async () => security.close() },
  ];
  let stopping: Promise<void> | undefined;
  return {
    grpc,
    security,
    ops,
    pool,
    ctx,
    recovery,
    repository,
    gateway,
    metrics,
    breakers,
    registry,
    shutdownSteps,
    info,
    stop: () => {
      stopping ??= (async () => {
        for (const step of shutdownSteps) await step.run();
      })();
      return stopping;
    },
  };
}
