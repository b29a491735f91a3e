import pg from 'pg';
import type { Logger } from '@wallet/platform';

/** A bounded pool: every statement has a timeout, every connection attempt too. */
export function createPool(options: { databaseUrl: string; max: number; statementTimeoutMs: number; logger: Logger }): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs,
    idle_in_transaction_session_timeout: options.statementTimeoutMs * 2,
    application_name: 'bank-card-adapter',
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', (error) => options.logger.warn({ err: error }, 'idle database connection failed'));
  return pool;
}
