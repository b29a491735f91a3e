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
  /** Each of chDB's mark and primary-index caches. */
  cacheMibMax: number;
  /** Everything the embedded engine tracks (queries, merges, caches); chDB only. */
  engineMemoryMibMax: number;
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
      clickhouse_settings: { async_insert: 0, ...querySettings(target) },
    });
    return { client, engine: 'http', location: `${url.protocol}//${url.host}` };
  }
  const path = resolve(target.chdbPath);
  mkdirSync(path, { recursive: true });
  // chdb is an optional dependency (prebuilt for Linux/macOS only): resolved at run time, so the
  // service still builds and runs against a ClickHouse server where it is missing.
  const connectionSpecifier = 'chdb/connection';
  const engineSpecifier = 'chdb';
  let chdb: { createChdbConnection(options: { path: string }): unknown };
  let engine: { Session: new (path: string, options: { connectionArgs: string[] }) => { close(): void } };
  try {
    chdb = (await import(connectionSpecifier)) as typeof chdb;
    engine = ((await import(engineSpecifier)) as { default: typeof engine }).default;
  } catch (error) {
    throw new Error(`embedded chDB is not available (${(error as Error).message}); set CLICKHOUSE_URL to a ClickHouse server`);
  }
  // The engine is one per process and takes its server settings from the first connection
  // to a path: this anchor session starts it with bounded caches and memory; the client's
  // connection below shares it. Without it every cache may grow to 5 GiB (see README).
  const anchor = new engine.Session(path, { connectionArgs: chdbServerArgs(target) });
  // chdb implements @clickhouse/client-common's Connection contract against its own copy of the
  // package; same shape, different nominal types.
  const connection = chdb.createChdbConnection({ path }) as ClickHouseClientConfigOptions['connection'];
  const client = createClient({ connection, clickhouse_settings: querySettings(target) });
  const close = client.close.bind(client);
  client.close = async () => {
    await close();
    anchor.close();
  };
  return { client, engine: 'chdb', location: path };
}

const MIB = 1024 * 1024;

/** Per-query bounds, the same on a server and on chDB. */
function querySettings(target: ClickHouseTarget) {
  return { max_memory_usage: String(target.queryMemoryMibMax * MIB) };
}

/**
 * Server settings of the embedded engine: a hard cap on everything it tracks
 * (queries, merges, caches), merges held to half of it, and small caches
 * (ClickHouse sizes them for a dedicated server: 5 GiB each by default).
 */
export function chdbServerArgs(target: Pick<ClickHouseTarget, 'engineMemoryMibMax' | 'cacheMibMax'>): string[] {
  const cacheBytes = target.cacheMibMax * MIB;
  return [
    `--max_server_memory_usage=${target.engineMemoryMibMax * MIB}`,
    `--merges_mutations_memory_usage_soft_limit=${Math.floor((target.engineMemoryMibMax * MIB) / 2)}`,
    `--mark_cache_size=${cacheBytes}`,
    `--primary_index_cache_size=${cacheBytes}`,
    `--index_mark_cache_size=${Math.floor(cacheBytes / 4)}`,
    `--query_condition_cache_size=${Math.floor(cacheBytes / 4)}`,
    `--vector_similarity_index_cache_size=0`,
    `--uncompressed_cache_size=0`,
  ];
}
