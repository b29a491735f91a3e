// One @clickhouse/client for both engines: a ClickHouse server over HTTP when
// CLICKHOUSE_URL is set, otherwise embedded chDB (the same engine in-process)
// plugged in through the client's `connection` option. The SQL and the code
// that runs it are the same on both.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { createClient, type ClickHouseClient, type ClickHouseClientConfigOptions } from '@clickhouse/client';

export interface ClickHouseTarget {
  url?: string;
  chdbPath: string;
  requestTimeoutMs: number;
  /** max_memory_usage of each query. */
  queryMemoryMibMax: number;
  /** chDB mark + uncompressed cache budget. */
  cacheMibMax: number;
}

export interface OpenedClickHouse {
  client: ClickHouseClient;
  /** "http" or "chdb", for logs and /readyz. */
  engine: 'http' | 'chdb';
  /** Where the data lives, without credentials. */
  location: string;
}

export async function openClickHouse(target: ClickHouseTarget): Promise<OpenedClickHouse> {
  if (target.url) {
    const url = new URL(target.url);
    const client = createClient({
      url: `${url.protocol}//${url.host}`,
      username: decodeURIComponent(url.username) || 'default',
      password: decodeURIComponent(url.password),
      request_timeout: target.requestTimeoutMs,
      max_open_connections: 10,
      // Synchronous inserts: the client's ack means the rows are written, so
      // committing Kafka offsets afterwards is safe.
      clickhouse_settings: { async_insert: 0 },
    });
    return { client, engine: 'http', location: `${url.protocol}//${url.host}` };
  }
  const path = resolve(target.chdbPath);
  mkdirSync(path, { recursive: true });
  // chdb is an optional dependency (prebuilt for Linux/macOS only): resolved at run time, so the
  // service still builds and runs against a ClickHouse server where it is missing.
  const specifier = 'chdb/connection';
  let chdb: { createChdbConnection(options: { path: string }): unknown };
  try {
    chdb = (await import(specifier)) as typeof chdb;
  } catch (error) {
    throw new Error(`embedded chDB is not available (${(error as Error).message}); set CLICKHOUSE_URL to a ClickHouse server`);
  }
  // chdb implements @clickhouse/client-common's Connection contract against its own copy of the
  // package; same shape, different nominal types.
  const connection = chdb.createChdbConnection({ path }) as ClickHouseClientConfigOptions['connection'];
  const client = createClient({ connection });
  return { client, engine: 'chdb', location: path };
}
