#!/usr/bin/env node
// Measures the history and summary queries at scale on embedded chDB, with the
// service's own schema and SQL (dist/ must be built: npx tsc -b services/analytics-service).
//   node services/analytics-service/bench/history-at-scale.mjs [rows=20000000] [accounts=100000]
// Data: `rows` operations spread over `accounts` accounts and 24 months, plus
// one heavy account with 1% of all rows; generated inside the engine
// (INSERT ... SELECT FROM numbers), then each query is timed (median of 20).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openClickHouse } from '../dist/store/client.js';
import { OperationsStore } from '../dist/store/operations-store.js';
import { normalizeOperationsQuery } from '../dist/domain/query.js';
import { normalizeSummaryQuery } from '../dist/domain/summary.js';

const rows = Number(process.argv[2] ?? 20_000_000);
const accounts = Number(process.argv[3] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'analytics-bench-'));
const { client } = await openClickHouse({ chdbPath: join(dir, 'chdb'), requestTimeoutMs: 600_000 });
const store = new OperationsStore(client, 'bench');
await store.ensureSchema();

const accountUuid = (expr) => `toUUID(concat('00000000-0000-4000-8000-', leftPad(toString(${expr}), 12, '0')))`;
const HEAVY = accountUuid(accounts + 1);
const start = Date.UTC(2024, 0, 1) * 1000;
const spanUs = 730 * 86_400 * 1_000_000;
const t0 = performance.now();
await client.command({
  query: `INSERT INTO bench.operations (account_id, created_at, event_id, type, amount_minor, currency, counterparty_account_id, transfer_id, description)
    SELECT
      if(number % 100 = 0, ${HEAVY}, ${accountUuid(`cityHash64(number) % ${accounts}`)}),
      fromUnixTimestamp64Micro(toInt64(${start} + (cityHash64(number, 1) % ${spanUs})), 'UTC'),
      generateUUIDv4(number),
      CAST(1 + number % 3, 'Enum8(\\'transfer_in\\' = 1, \\'transfer_out\\' = 2, \\'topup\\' = 3)'),
      toInt64(1 + cityHash64(number, 2) % 100000),
      'USD',
      generateUUIDv4(number + 1),
      generateUUIDv4(number + 2),
      ''
    FROM numbers(${rows})`,
  clickhouse_settings: { max_insert_block_size: '1048576' },
});
const loadS = (performance.now() - t0) / 1000;
// Steady state: background merges have caught up (a live table is merged continuously).
const t1 = performance.now();
await client.command({ query: 'OPTIMIZE TABLE bench.operations FINAL' });
const optimizeS = (performance.now() - t1) / 1000;
const size = await (await client.query({
  query: `SELECT toString(sum(rows)) AS rows, toString(count()) AS parts, toString(sum(data_compressed_bytes)) AS bytes FROM system.parts WHERE database = 'bench' AND active`,
  format: 'JSONEachRow',
})).json();

async function median(name, fn, runs = 20) {
  const times = [];
  let result;
  for (let i = 0; i < runs; i += 1) {
    const t = performance.now();
    result = await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(58)} median ${times[Math.floor(runs / 2)].toFixed(1).padStart(7)} ms   p90 ${times[Math.floor(runs * 0.9)].toFixed(1).padStart(7)} ms`);
  return result;
}

const typical = accountUuid(42);
const heavyId = (await (await client.query({ query: `SELECT toString(${HEAVY}) AS id`, format: 'JSONEachRow' })).json())[0].id;
const typicalId = (await (await client.query({ query: `SELECT toString(${typical}) AS id`, format: 'JSONEachRow' })).json())[0].id;
console.log(`rows ${size[0].rows}, active parts ${size[0].parts}, compressed ${(Number(size[0].bytes) / 2 ** 20).toFixed(0)} MiB, load ${loadS.toFixed(1)} s, merge ${optimizeS.toFixed(1)} s`);
const page = (accountId, extra = {}) => store.listOperations(normalizeOperationsQuery({ accountId, pageSize: 20, pageToken: '', types: [], ...extra }));
await median('last 20 ops, typical account (~200 rows)', () => page(typicalId));
const first = await median(`last 20 ops, heavy account (${rows / 100} rows)`, () => page(heavyId));
// A cursor deep into the heavy account's history: 50 pages in.
let query = normalizeOperationsQuery({ accountId: heavyId, pageSize: 20, pageToken: '', types: [] });
let cursorPage = first;
for (let i = 0; i < 50; i += 1) cursorPage = await store.listOperations({ ...query, after: cursorPage.next });
query = { ...query, after: cursorPage.next };
await median('page 51 of heavy account (keyset cursor)', () => store.listOperations(query));
await median('last 20 topups, heavy account', () => page(heavyId, { types: ['topup'] }));
const summaryYear = normalizeSummaryQuery({ accountId: heavyId, fromMs: Date.UTC(2024, 0, 1), toMs: Date.UTC(2024, 11, 31), granularity: 'day' });
await median('summary by day over 365 days, heavy account', () => store.summarize(summaryYear), 5);
const summaryTyp = normalizeSummaryQuery({ accountId: typicalId, fromMs: Date.UTC(2024, 0, 1), toMs: Date.UTC(2026, 0, 1), granularity: 'month' });
await median('summary by month over 24 months, typical account', () => store.summarize(summaryTyp), 5);
const explain = await (await client.query({
  query: `EXPLAIN indexes = 1 SELECT event_id FROM bench.operations FINAL WHERE account_id = toUUID('${typicalId}') ORDER BY created_at DESC, event_id DESC LIMIT 21`,
  format: 'JSONEachRow',
})).json();
console.log('typical account page, primary key use:', explain.map((r) => r.explain.trim()).filter((l) => /^(Parts|Granules):/.test(l)).slice(-2).join(', '));
await store.close();
rmSync(dir, { recursive: true, force: true });
