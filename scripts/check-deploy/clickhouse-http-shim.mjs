#!/usr/bin/env node
// Test-only stand-in for a ClickHouse server: the HTTP interface that
// @clickhouse/client speaks (GET /ping, POST / with the SQL or an INSERT's
// rows), executed by embedded chDB (the same ClickHouse engine). The native
// replay of the analytics-service image uses it, because that image has no
// chDB and must reach ClickHouse over CLICKHOUSE_URL, as in Compose.
//   node scripts/check-deploy/clickhouse-http-shim.mjs --data <dir> [--port 0]
// Prints one JSON line {"listening": port} once it accepts connections.
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? fallback : args[i + 1];
};
const dataDir = resolve(option('data', '.data/clickhouse-shim'));
const port = Number(option('port', '0'));
const MAX_BODY_BYTES = 64 * 1024 * 1024;

// URL parameters of the HTTP protocol itself; every other one is a setting.
const PROTOCOL_PARAMS = new Set(['query', 'query_id', 'database', 'session_id', 'session_timeout', 'session_check', 'user', 'password', 'compress', 'decompress', 'role']);

mkdirSync(dataDir, { recursive: true });
const { createChdbConnection } = require('chdb/connection');
const connection = createChdbConnection({ path: dataDir });

function readBody(req) {
  return new Promise((resolveBody, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
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

const server = createServer(async (req, res) => {
  const url = new URL(req.url ?? '/', 'http://shim');
  try {
    if (url.pathname === '/ping' || (req.method === 'GET' && url.pathname === '/' && !url.searchParams.has('query'))) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('Ok.\n');
      return;
    }
    const settings = {};
    const queryParams = {};
    for (const [key, value] of url.searchParams) {
      if (key.startsWith('param_')) queryParams[key.slice('param_'.length)] = value;
      else if (!PROTOCOL_PARAMS.has(key)) settings[key] = /^-?\d+$/.test(value) ? Number(value) : value;
    }
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
    res.writeHead(200, {
      'content-type': 'text/plain; charset=UTF-8',
      'x-clickhouse-query-id': common.query_id ?? '',
      'x-clickhouse-summary': JSON.stringify(summary),
      ...(settings.default_format ? { 'x-clickhouse-format': String(settings.default_format) } : {}),
    });
    res.end(output);
  } catch (error) {
    const message = String(error?.message ?? error);
    res.writeHead(500, { 'content-type': 'text/plain', 'x-clickhouse-exception-code': String(error?.code ?? 1) });
    res.end(/^Code: \d+/.test(message) ? message : `Code: ${error?.code ?? 1}. DB::Exception: ${message}`);
  }
});
server.requestTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  console.log(JSON.stringify({ listening: server.address().port }));
});
const stop = () => server.close(() => connection.close().finally(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
