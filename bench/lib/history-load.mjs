#!/usr/bin/env node
// Bulk-loads synthetic operations straight into the analytics-service's
// ClickHouse table, through the service's own store code (its built dist/):
// same client, same schema, same database name. Runs as a child process
// because embedded chDB belongs to one process at a time; it exits before the
// analytics-service opens the same folder.
//
//   node bench/lib/history-load.mjs options.json
//   options.json: {"chdbPath":"...","database":"wallet_analytics","rows":10000000,
//                  "accountIds":[...],"heavyAccountId":"...","heavyShare":0.01}
//
// Rows are what the consumer stores for schema-valid events (eventToRow):
// transfers carry a counterparty and a transfer id, top-ups a top-up id, a
// deposit id and card digits. They are generated inside the engine (INSERT
// ... SELECT FROM numbers), one insert per monthly partition, so the load
// leaves one part per partition and no merges to run during the measurements.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { root } from '../../scripts/lib/paths.mjs';

const dist = (file) => pathToFileURL(join(root, 'services', 'analytics-service', 'dist', file)).href;
const { openClickHouse } = await import(dist('store/client.js'));
const { OperationsStore } = await import(dist('store/operations-store.js'));

const options = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8'));
const rows = Number(options.rows);
const accountIds = options.accountIds;
if (!Number.isInteger(rows) || rows < 1 || rows > 100_000_000) throw new Error(`rows must be 1..1e8, got ${options.rows}`);
if (!Array.isArray(accountIds) || accountIds.length < 2) throw new Error('accountIds: at least 2 needed');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
for (const id of [...accountIds, options.heavyAccountId]) if (!UUID.test(id)) throw new Error(`not a UUID: ${id}`);
const heavyEvery = Math.max(2, Math.round(1 / (options.heavyShare ?? 0.01)));
/** Spread over the last 180 days, ending an hour ago: the bench's live transfers are newer. */
const spanUs = 180n * 86_400n * 1_000_000n;
const endUs = BigInt(Date.now() - 3_600_000) * 1000n;
const startUs = endUs - spanUs;

/** One insert per calendar month (= one table partition), so each leaves one part and nothing to merge later. */
function monthSlices() {
  const slices = [];
  let from = startUs;
  while (from < endUs) {
    const d = new Date(Number(from / 1000n));
    const nextMonthUs = BigInt(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)) * 1000n;
    const to = nextMonthUs < endUs ? nextMonthUs : endUs;
    slices.push({ from, to });
    from = to;
  }
  let offset = 0;
  return slices.map((slice, i) => {
    const count = i === slices.length - 1 ? rows - offset : Math.round((Number(slice.to - slice.from) / Number(spanUs)) * rows);
    const out = { ...slice, offset, count };
    offset += count;
    return out;
  });
}

// A bulk load of up to ~1.7 M rows per insert (one month): more memory than the service's own
// bounds (ANALYTICS_MEMORY_*, which apply when the service opens the folder after this process).
const { client } = await openClickHouse({
  chdbPath: options.chdbPath,
  requestTimeoutMs: 900_000,
  queryMemoryMibMax: 2_048,
  cacheMibMax: 64,
  engineMemoryMibMax: 3_072,
});
const store = new OperationsStore(client, options.database);
await store.ensureSchema();
const table = `${options.database}.operations`;
const t0 = performance.now();
// A month above this many rows (loads above ~20 M) is inserted in several blocks, then merged into one
// part: one ~17 M-row block (100 M rows) needs more than queryMemoryMibMax while the part is sorted.
const rowsPerInsertMax = Number(options.rowsPerInsertMax ?? 3_000_000);
const blocksOf = ({ from, to, offset, count }) =>
  Array.from({ length: Math.ceil(count / rowsPerInsertMax) }, (_, i) => ({ from, to, offset: offset + i * rowsPerInsertMax, count: Math.min(rowsPerInsertMax, count - i * rowsPerInsertMax) }));
for (const month of monthSlices()) {
  if (month.count <= 0) continue;
  const blocks = blocksOf(month);
  for (const { from, to, offset, count } of blocks) await client.command({
    query: `INSERT INTO ${table} (account_id, created_at, event_id, type, amount_minor, currency, counterparty_account_id,
                                  transfer_id, top_up_id, deposit_id, description, card_last4, card_brand)
      WITH {ids:Array(UUID)} AS ids
      SELECT
        if(n % ${heavyEvery} = 0, toUUID({heavy:String}), ids[1 + cityHash64(n) % length(ids)]) AS account_id,
        fromUnixTimestamp64Micro(toInt64(${from} + cityHash64(n, 1) % ${to - from}), 'UTC'),
        generateUUIDv4(n),
        CAST(multiIf(n % 10 = 0, 3, n % 2 = 1, 1, 2), 'Enum8(\\'transfer_in\\' = 1, \\'transfer_out\\' = 2, \\'topup\\' = 3)') AS t,
        toInt64(1 + cityHash64(n, 2) % 100000),
        'USD',
        if(t = 'topup', NULL, ids[1 + cityHash64(n, 3) % length(ids)]),
        if(t = 'topup', NULL, generateUUIDv4(n + 4)),
        if(t = 'topup', generateUUIDv4(n + 5), NULL),
        if(t = 'topup', generateUUIDv4(n + 6), NULL),
        if(t = 'topup', '', 'bench history'),
        if(t = 'topup', '4242', ''),
        if(t = 'topup', 'visa', '')
      FROM (SELECT number + ${offset} AS n FROM numbers(${count}))`,
    query_params: { heavy: options.heavyAccountId, ids: accountIds },
    // The whole month in one insert block: one part per partition.
    clickhouse_settings: {
      max_insert_block_size: String(count),
      min_insert_block_size_rows: String(count),
      min_insert_block_size_bytes: '100000000000',
    },
  });
  if (blocks.length > 1) {
    // One part per partition again, so no merge runs during the measurements.
    const d = new Date(Number(month.from / 1000n));
    const partitionId = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
    await client.command({ query: `OPTIMIZE TABLE ${table} PARTITION ID '${partitionId}' FINAL` });
  }
}
const loadS = (performance.now() - t0) / 1000;
const [stats] = await (await client.query({
  query: `SELECT toString(sum(rows)) AS rows, toString(count()) AS parts FROM system.parts WHERE database = {db:String} AND table = 'operations' AND active`,
  query_params: { db: options.database },
  format: 'JSONEachRow',
})).json();
await store.close();
process.stdout.write(`${JSON.stringify({ rows: Number(stats.rows), parts: Number(stats.parts), loadS: Math.round(loadS * 10) / 10 })}\n`);
