#!/usr/bin/env node
// A ClickHouse server for local runs and tests: the HTTP interface that
// @clickhouse/client speaks (GET /ping, POST / with the SQL or an INSERT's
// rows), executed by embedded chDB (the same ClickHouse engine) in a process
// of its own. Used where services must share one engine over CLICKHOUSE_URL:
// analytics replicas (npm start --replicas N), the native replay of the
// analytics image (which has no chDB, as in Compose), the degradation tests
// (ClickHouse stopped and started again on the same data).
// chDB is one engine per process and one process per data folder, so the
// server is always a child process; never two on one dataDir at once.
//   node scripts/lib/clickhouse-server.mjs --data <dir> [--port 0]
// prints one JSON line {"listening": port} once it accepts connections.
// From code: startClickHouseServer({ dataDir, port }) -> { url, port, pid, stop() }.
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnManaged } from './process.mjs';

const SELF = fileURLToPath(import.meta.url);
const BODY_BYTES_MAX = 64 * 1024 * 1024;
// ClickHouse's http_max_uri_size (1 MiB): query parameters travel in the URL, and a
// batch's dedup lookup ({ids:Array(UUID)}) outgrows Node's 16 KiB header default (431, empty body).
const URI_BYTES_MAX = 1024 * 1024;
const REQUEST_TIMEOUT_MS = 60_000;
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const PING_TIMEOUT_MS = 1_000;
const MIB = 1024 * 1024;
// Server-wide bounds of the engine (ClickHouse sizes caches for a dedicated host: 5 GiB each).
const ENGINE_MEMORY_MIB_MAX = 1024;
const CACHE_MIB_MAX = 64;

// URL parameters of the HTTP protocol itself; every other one is a setting.
const PROTOCOL_PARAMS = new Set(['query', 'query_id', 'database', 'session_id', 'session_timeout', 'session_check', 'user', 'password', 'compress', 'decompress', 'role']);

function readBody(req) {
  return new Promise((resolveBody, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > BODY_BYTES_MAX) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function readStream(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}

// A real server's defaults where chDB's differ: 64-bit integers quoted in JSON formats
// (chDB prints them as bare numbers, which a JSON parser rounds).
const SERVER_DEFAULT_SETTINGS = { output_format_json_quote_64bit_integers: 1 };

/** Splits URL parameters into ClickHouse settings and {name} query parameters. */
function requestOptions(url) {
  const settings = { ...SERVER_DEFAULT_SETTINGS };
  const queryParams = {};
  for (const [key, value] of url.searchParams) {
    if (key.startsWith('param_')) queryParams[key.slice('param_'.length)] = value;
    else if (!PROTOCOL_PARAMS.has(key)) settings[key] = /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return { settings, queryParams };
}

/** Runs one HTTP request's statement on the engine; resolves with output and headers. */
async function execute(connection, req, url) {
  const { settings, queryParams } = requestOptions(url);
  const body = req.method === 'POST' ? await readBody(req) : '';
  const database = url.searchParams.get('database');
  const prefix = database && database !== 'default' ? `USE ${database.replace(/[^A-Za-z0-9_]/g, '')}; ` : '';
  const common = { clickhouse_settings: settings, query_params: queryParams, query_id: url.searchParams.get('query_id') ?? undefined };
  const queryInUrl = url.searchParams.get('query');
  let output = Buffer.alloc(0);
  let summary = {};
  if (queryInUrl && /^\s*INSERT\b/i.test(queryInUrl)) {
    // An INSERT: the statement in the URL, its rows in the body.
    const result = await connection.insert({ ...common, query: `${prefix}${queryInUrl}`, values: body });
    summary = result.summary ?? {};
  } else {
    const sql = queryInUrl ? `${queryInUrl}\n${body}` : body;
    const result = await connection.query({ ...common, query: `${prefix}${sql}` });
    output = await readStream(result.stream);
  }
  const headers = {
    'content-type': 'text/plain; charset=UTF-8',
    'x-clickhouse-query-id': common.query_id ?? '',
    'x-clickhouse-summary': JSON.stringify(summary),
    ...(settings.default_format ? { 'x-clickhouse-format': String(settings.default_format) } : {}),
  };
  return { output, headers };
}

/** The server side: runs in the child process started by startClickHouseServer (or by hand). */
function serve({ dataDir, port }) {
  mkdirSync(dataDir, { recursive: true });
  const require = createRequire(import.meta.url);
  const { Session } = require('chdb');
  const { createChdbConnection } = require('chdb/connection');
  const cacheBytes = CACHE_MIB_MAX * MIB;
  // The first session on a path starts the engine with its server settings; the connection shares it.
  const anchor = new Session(dataDir, {
    connectionArgs: [
      `--max_server_memory_usage=${ENGINE_MEMORY_MIB_MAX * MIB}`,
      `--mark_cache_size=${cacheBytes}`,
      `--primary_index_cache_size=${cacheBytes}`,
      `--uncompressed_cache_size=0`,
    ],
  });
  const connection = createChdbConnection({ path: dataDir });
  const server = createServer({ maxHeaderSize: URI_BYTES_MAX }, async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://clickhouse');
    try {
      if (url.pathname === '/ping' || (req.method === 'GET' && url.pathname === '/' && !url.searchParams.has('query'))) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('Ok.\n');
        return;
      }
      const { output, headers } = await execute(connection, req, url);
      res.writeHead(200, headers).end(output);
    } catch (error) {
      const message = String(error?.message ?? error);
      res.writeHead(500, { 'content-type': 'text/plain', 'x-clickhouse-exception-code': String(error?.code ?? 1) });
      res.end(/^Code: \d+/.test(message) ? message : `Code: ${error?.code ?? 1}. DB::Exception: ${message}`);
    }
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  server.listen(port, '127.0.0.1', () => {
    console.log(JSON.stringify({ listening: server.address().port }));
  });
  const stop = () => {
    server.close(() => {
      connection
        .close()
        .then(() => anchor.close())
        .finally(() => process.exit(0));
    });
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function ping(url) {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts a ClickHouse HTTP server (chDB in a child process) on 127.0.0.1.
 * port 0 = a free one; the same dataDir and port again after stop() brings the same data back.
 * @param {{ dataDir: string, port?: number, log?: (line: string) => void }} options
 * @returns {Promise<{ url: string, port: number, pid: number | undefined, stop(): Promise<void>, kill(): Promise<void> }>}
 */
export async function startClickHouseServer({ dataDir, port = 0, log = () => {} }) {
  if (!dataDir) throw new Error('startClickHouseServer: dataDir is required');
  let listening;
  const child = spawnManaged({
    name: 'clickhouse',
    command: process.execPath,
    args: [SELF, '--data', resolve(dataDir), '--port', String(port)],
    onLine: (line) => {
      const match = /^\{"listening":(\d+)\}$/.exec(line.trim());
      if (match) listening = Number(match[1]);
      else log(`clickhouse: ${line}`);
    },
  });
  const stop = async () => {
    await child.stop({ signal: 'SIGTERM', graceMs: STOP_GRACE_MS });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (listening === undefined || !(await ping(`http://127.0.0.1:${listening}`))) {
    if (!child.running || Date.now() > deadline) {
      const output = child.logs.slice(-20).join('\n');
      await stop();
      throw new Error(`clickhouse server (chDB) did not start within ${START_TIMEOUT_MS} ms on ${dataDir}:\n${output}`);
    }
    await sleep(50);
  }
  // kill(): SIGKILL, a crash (the data folder keeps what was written).
  const kill = async () => {
    await child.kill();
  };
  return { url: `http://127.0.0.1:${listening}`, port: listening, pid: child.pid, stop, kill };
}

function option(args, name, fallback) {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
}

if (process.argv[1] && resolve(process.argv[1]) === SELF) {
  const args = process.argv.slice(2);
  serve({ dataDir: resolve(option(args, 'data', '.data/clickhouse-server')), port: Number(option(args, 'port', '0')) });
}
