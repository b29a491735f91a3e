import type pg from 'pg';
import { withSpan } from '../tracing/spans.js';
import { isConnectionError } from './errors.js';

/**
 * Runs body inside BEGIN ... COMMIT on one pooled connection. `beginSql` may
 * append statements to BEGIN (one round trip, simple protocol), e.g. taking
 * an advisory lock. Any error rolls back; a connection that broke or timed out
 * on the client is destroyed instead of being returned to the pool. Traced as
 * an INTERNAL span `db.transaction` whose children are its statements.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  beginSql: string,
  body: (client: pg.PoolClient, begin: pg.QueryResult[]) => Promise<T>,
): Promise<T> {
  return withSpan('db.transaction', { attributes: { 'db.system.name': 'postgresql' } }, () => runTransaction(pool, beginSql, body));
}

async function runTransaction<T>(
  pool: pg.Pool,
  beginSql: string,
  body: (client: pg.PoolClient, begin: pg.QueryResult[]) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const begin = (await client.query(beginSql)) as pg.QueryResult | pg.QueryResult[];
    const result = await body(client, Array.isArray(begin) ? begin : [begin]);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    if (isConnectionError(error)) {
      broken = error as Error;
    } else {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
    }
    throw error;
  } finally {
    client.release(broken ?? false);
  }
}

/** A 64-bit advisory lock key as a SQL literal (we computed it: digits and sign only). */
export function advisoryLockLiteral(key: bigint): string {
  return BigInt.asIntN(64, key).toString();
}
