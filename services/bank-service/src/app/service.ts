// Composition root: builds the pool, runs migrations, starts the gRPC and ops
// servers. main.ts calls it with the loaded config; tests call it in-process.
import { BankServiceService, type BankServiceServer } from '@wallet/contracts/bank';
import { createMetricsRegistry, retry, startGrpcServer, startOpsServer, type Logger } from '@wallet/platform';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { BankConfig } from '../config.js';
import { createPool, isConnectionError } from '@wallet/platform/db';
import { createTokenVerifier } from '@wallet/platform/auth';
import { createGrpcSecurity, type GrpcSecurity } from '@wallet/platform/tls';
import { createCallerAuthenticator } from '../grpc/caller.js';
import { BANK_CALLERS } from '../grpc/callers.js';
import { ERROR_DOMAIN } from '../grpc/errors.js';
import { migrateBank } from '../db/migrations.js';
import { createBankServicer } from '../grpc/servicer.js';
import { KafkaOutboxPublisher } from '../outbox/kafka-publisher.js';
import { OutboxRelay } from '../outbox/relay.js';
import { BankMetrics } from '../metrics.js';
import { BankOperations } from './operations.js';
import { HoldExpirySweeper } from './hold-expiry.js';
import { HoldUseCase } from './holds.js';

export const BANK_SERVICE_NAME = 'wallet.bank.v1.BankService';

export interface RunningBankService {
  grpcPort: number;
  opsPort: number;
  pool: pg.Pool;
  operations: BankOperations;
  registry: Registry;
  /** Stops accepting, drains in-flight calls (bounded), closes the pool. */
  close(): Promise<void>;
}

/**
 * The servicer behind the bank's caller table (callers.ts): a service not in
 * the RPC's row is refused, logged and counted before any handler runs.
 */
function guardedServicer(security: GrpcSecurity, deps: Parameters<typeof createBankServicer>[0]): BankServiceServer {
  const { logger, metrics } = deps;
  return security.authorize(BankServiceService, createBankServicer(deps), BANK_CALLERS, {
    domain: ERROR_DOMAIN,
    onDenied: ({ rpc, caller, reason }) => {
      // The table is keyed like the implementation (transferMoney); metrics and logs use the proto's name.
      const method = `${rpc.charAt(0).toUpperCase()}${rpc.slice(1)}`;
      metrics.callerDenied(method, caller);
      // A refused transfer or deposit is a rejection by reason like any other (bank_transfers_total{outcome}).
      metrics.outcome(method, reason.toLowerCase());
      logger.warn({ method, caller, reason }, 'gRPC caller refused by the caller table');
    },
  });
}

/** application_name of the relay's leader session (C4): bank-service/<BANK_REPLICA_ID or pid>. */
export function relaySessionName(config: Pick<BankConfig, 'BANK_REPLICA_ID'>): string {
  return `bank-service/${config.BANK_REPLICA_ID ?? process.pid}`;
}

export async function startBankService(config: BankConfig, logger: Logger): Promise<RunningBankService> {
  const registry = createMetricsRegistry('bank-service');
  // First: unusable certificate files stop the start before any database work.
  const security = createGrpcSecurity(config.grpcSecurity, { logger, metrics: registry });
  try {
    return await startWithSecurity(config, logger, registry, security);
  } catch (error) {
    security.close();
    throw error;
  }
}

async function startWithSecurity(config: BankConfig, logger: Logger, registry: Registry, security: GrpcSecurity): Promise<RunningBankService> {
  if (config.BANK_MIGRATE_ON_START) {
    // PostgreSQL may still be starting (compose, `npm start`): wait for it,
    // boundedly, instead of crash-looping.
    await retry(() => migrateBank({ databaseUrl: config.DATABASE_URL, logger }), {
      attempts: 8,
      baseDelayMs: 250,
      maxDelayMs: 4_000,
      isRetryable: isConnectionError,
      onRetry: (error, attempt, delayMs) => logger.warn({ err: error, attempt, delayMs }, 'database not reachable yet, retrying migrations'),
    });
  }
  const pool = createPool(
    {
      connectionString: config.DATABASE_URL,
      connectionsMax: config.BANK_DATABASE_CONNECTIONS_MAX,
      applicationName: 'bank-service',
      connectTimeoutMs: config.BANK_DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: config.BANK_DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.BANK_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    },
    logger,
  );
  const metrics = new BankMetrics(registry, pool);
  const publisher = new KafkaOutboxPublisher({
    brokers: config.KAFKA_BROKERS.split(',').map((b) => b.trim()).filter(Boolean),
    topic: config.BANK_KAFKA_OPERATIONS_TOPIC,
    clientId: config.BANK_KAFKA_CLIENT_ID,
    requestTimeoutMs: config.BANK_KAFKA_REQUEST_TIMEOUT_MS,
    connection: config.kafkaConnection,
    logger,
  });
  // The relay's leader session: its own connection, named after the replica so pg_stat_activity shows who leads.
  const relayPool = config.BANK_OUTBOX_RELAY_ENABLED
    ? createPool(
        {
          connectionString: config.DATABASE_URL,
          connectionsMax: 1,
          applicationName: relaySessionName(config),
          connectTimeoutMs: config.BANK_DATABASE_CONNECT_TIMEOUT_MS,
          statementTimeoutMs: config.BANK_DATABASE_STATEMENT_TIMEOUT_MS,
          idleInTransactionTimeoutMs: config.BANK_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
        },
        logger,
      )
    : undefined;
  const relay = relayPool
    ? new OutboxRelay({
        pool: relayPool,
        publisher,
        logger,
        batchSize: config.BANK_OUTBOX_BATCH_SIZE_MAX,
        pollIntervalMs: config.BANK_OUTBOX_POLL_INTERVAL_MS,
        publishTimeoutMs: config.BANK_OUTBOX_PUBLISH_TIMEOUT_MS,
        backoffBaseMs: config.BANK_OUTBOX_RETRY_DELAY_MS_MIN,
        backoffMaxMs: config.BANK_OUTBOX_RETRY_DELAY_MS_MAX,
        metrics: metrics.outbox,
      })
    : undefined;
  const operations = new BankOperations({
    pool,
    logger,
    limits: {
      maxTransferAmountMinor: config.BANK_TRANSFER_AMOUNT_MAX,
      maxDepositAmountMinor: config.BANK_DEPOSIT_AMOUNT_MAX,
      statementChunkSizeMax: config.BANK_STATEMENT_CHUNK_SIZE_MAX,
      statementEntriesMax: config.BANK_STATEMENT_ENTRIES_MAX,
      // Each statement holds a connection: never all of them.
      statementConcurrencyMax: Math.max(1, Math.min(config.BANK_STATEMENT_CONCURRENCY_MAX, config.BANK_DATABASE_CONNECTIONS_MAX - 1)),
      // The bank ends a stalled statement before PostgreSQL's idle-in-transaction timeout kills its connection.
      statementWriteWaitMsMax: Math.min(config.BANK_STATEMENT_WRITE_WAIT_MS_MAX, Math.floor(config.BANK_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS / 2)),
      holdExpiryDefaultMs: config.BANK_HOLD_EXPIRY_DEFAULT_MS,
      holdExpiryMsMax: config.BANK_HOLD_EXPIRY_MS_MAX,
    },
    poolWaitingMax: config.BANK_DATABASE_QUEUE_SIZE_MAX,
    onRetry: (operation, cause) => metrics.retried(operation, cause),
    onCommitted: () => relay?.wake(),
    groupCommit: {
      enabled: config.BANK_GROUP_COMMIT_ENABLED,
      maxBatch: config.BANK_GROUP_COMMIT_BATCH_SIZE_MAX,
      queueMax: config.BANK_GROUP_COMMIT_QUEUE_SIZE_MAX,
      // More batches than connections would only wait for the pool.
      workers: Math.min(config.BANK_GROUP_COMMIT_WORKERS, config.BANK_DATABASE_CONNECTIONS_MAX),
      lingerMs: config.BANK_GROUP_COMMIT_LINGER_MS,
    },
    onTransferBatch: (report) => metrics.transferBatch(report),
    onTransferDropped: (reason) => metrics.transferDropped(reason),
    onTransferPhase: (phase, seconds) => metrics.transferPhase(phase, seconds),
    ownerCacheSizeMax: config.BANK_OWNER_CACHE_SIZE_MAX,
  });
  const callers = createCallerAuthenticator({
    verifier: createTokenVerifier({
      issuer: config.AUTH_ISSUER,
      registry,
      audience: config.AUTH_AUDIENCE,
      rolesClaim: config.AUTH_ROLES_CLAIM,
      // An https issuer (the identity-service on its certificate) is verified against the internal CA, rotation included.
      ...(security.mtls ? { caCertificates: () => security.mtls!.provider.current().ca } : {}),
    }),
  });
  const servicer = guardedServicer(security, { operations, logger, metrics, callers });
  const holdExpiry = new HoldExpirySweeper(
    new HoldUseCase(operations.context),
    { intervalMs: config.BANK_HOLD_SWEEP_INTERVAL_MS, batchSizeMax: config.BANK_HOLD_SWEEP_BATCH_SIZE_MAX, batchesPerTickMax: 10 },
    logger,
    (count) => metrics.holdsExpired(count),
  );
  metrics.trackTransferQueue(() => operations.transferQueueStats());
  metrics.trackOwnerCache(() => operations.owners.size);

  let grpc: Awaited<ReturnType<typeof startGrpcServer>> | undefined;
  let ops: Awaited<ReturnType<typeof startOpsServer>> | undefined;
  let stopping = false;
  try {
    grpc = await startGrpcServer({
      host: config.BANK_GRPC_HOST,
      port: config.BANK_GRPC_PORT,
      credentials: security.serverCredentials(),
      services: [{ name: BANK_SERVICE_NAME, definition: BankServiceService, implementation: servicer }],
      // RPC latency and codes: grpc_server_handling_seconds (the platform's, replacing bank_rpc_duration_seconds).
      registry,
    });
    ops = await startOpsServer({
      host: config.BANK_OPS_HOST,
      port: config.BANK_OPS_PORT,
      registry,
      readinessTimeoutMs: 2_000,
      // Reported, never deciding readiness: a follower serves gRPC as well as the leader.
      ...(relay ? { detail: () => ({ relay: relay.role }) } : {}),
      readiness: async (): Promise<Record<string, string>> => {
        if (stopping) return { service: 'stopping' };
        try {
          // Bounded by the pool's connect timeout and query_timeout.
          await pool.query('SELECT 1');
          return { database: 'ok' };
        } catch (error) {
          return { database: `unavailable: ${(error as Error).message}` };
        }
      },
    });
  } catch (error) {
    await grpc?.shutdown(0);
    await pool.end();
    await relayPool?.end();
    throw error;
  }

  const runningGrpc = grpc;
  const runningOps = ops;
  // Kafka being down never blocks start or transfers: the relay backs off and catches up.
  relay?.start();
  holdExpiry.start();
  logger.info({ grpcPort: runningGrpc.port, opsPort: runningOps.port, grpcHost: config.BANK_GRPC_HOST }, 'listening');

  let closed: Promise<void> | undefined;
  return {
    grpcPort: runningGrpc.port,
    opsPort: runningOps.port,
    pool,
    operations,
    registry,
    close: () => {
      closed ??= (async () => {
        stopping = true;
        const drainMs = Math.max(100, config.BANK_SHUTDOWN_TIMEOUT_MS - 1_000);
        await runningGrpc.shutdown(drainMs);
        // Running transfer batches finish (bounded by the statement timeouts); anything still queued
        // belongs to calls the drain gave up on and is shed unexecuted.
        await operations.close();
        // Before the pool closes: a sweep in progress finishes its transaction.
        await holdExpiry.stop();
        // After the last commit: the relay finishes (or abandons) its batch; rows stay in the outbox.
        await relay?.stop();
        await publisher.close();
        await runningOps.close();
        await pool.end();
        await relayPool?.end();
        // Last: nothing uses the certificates any more.
        security.close();
      })();
      return closed;
    },
  };
}
