import pg from 'pg';
import type { Logger } from '../logger.js';
import { instrumentPool } from './instrument.js';

const INT8_OID = 20;

/** BIGINT columns (money, versions, counts) come back as exact bigint, never a float or string. */
export const bigintTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PoolOptions {
  connectionString: string;
  /** Connections in the pool. */
  connectionsMax: number;
  connectTimeoutMs: number;
  /** Server-side statement_timeout and lock_timeout; the client waits 1 s longer. */
  statementTimeoutMs: number;
  /** Server-side lock_timeout; defaults to statementTimeoutMs. */
  lockTimeoutMs?: number;
  idleInTransactionTimeoutMs: number;
  applicationName: string;
}

/**
 * A pg pool where nothing can hang: connecting is bounded, every statement is
 * bounded on the server (statement_timeout, lock_timeout) and on the client
 * (query_timeout, for a silent network), and a stuck transaction is ended by
 * the server. Broken connections are dropped and replaced on demand, so the
 * pool recovers by itself when PostgreSQL comes back. Every statement is a
 * CLIENT span (see instrument.ts).
 */
export function createPool(options: PoolOptions, logger: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.connectionsMax,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    lock_timeout: options.lockTimeoutMs ?? options.statementTimeoutMs,
    query_timeout: options.statementTimeoutMs + 1_000,
    idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs,
    application_name: options.applicationName,
    keepAlive: true,
    types: bigintTypes,
  });
  // An idle client whose backend died (restart, pg_terminate_backend) emits
  // here; the pool has already discarded it. Without a listener it would crash.
  pool.on('error', (error) => {
    logger.warn({ err: error }, 'idle database connection lost; it will be replaced');
  });
  // pg-pool listens for errors only on idle clients; a backend that dies while
  // its client is checked out (between two statements) would otherwise be an
  // unhandled 'error' event. The next query on it fails, and withTransaction
  // then destroys the client instead of returning it.
  pool.on('connect', (client) => {
    client.on('error', (error) => logger.debug({ err: error }, 'database connection lost while in use'));
  });
  instrumentPool(pool);
  return pool;
}
