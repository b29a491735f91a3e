#!/usr/bin/env node
// A/B of history reads on a bulk-loaded chDB folder, in this process (the
// analytics-service's own dist/: store, page cache, reader), interleaved:
// A (cache off) and B (cache on) alternate window by window, so both see the
// same machine load; B is the service's default (cache on, first pages read
// in batches of up to 32 accounts). Each window runs `readers` closed-loop readers for
// `windowMs` and reports reads/s, p50/p99 latency and CPU ms per read of this
// process (chDB runs in it, so its threads count too).
//
//   npx tsc -b services/analytics-service
//   node bench/lib/history-load.mjs opts.json     # e.g. 10 M rows, as the bench loads them
//   node services/analytics-service/scripts/history-ab.mjs <chdbPath> <accounts.json> [windowMs=10000] [rounds=2] [readers=16]
// accounts.json: {"ids": [...the loaded account ids...], "heavy": "<heavy account id>"}.
// Scenarios as in the bench: first page (20) of a random account among the
// 2,500 the bench's 16 workers own; first page of the heavy account; page 251
// of the heavy account by cursor. Every B window starts with an empty cache
// (as the bench's scenario does).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const dist = new URL('../dist/', import.meta.url);
const { openClickHouse } = await import(new URL('store/client.js', dist).href);
const { OperationsStore } = await import(new URL('store/operations-store.js', dist).href);
const { normalizeOperationsQuery } = await import(new URL('domain/query.js', dist).href);
const { HistoryCache } = await import(new URL('app/history-cache.js', dist).href);
const { HistoryReader } = await import(new URL('app/history-reader.js', dist).href);
const { FirstPageBatcher } = await import(new URL('app/first-page-batcher.js', dist).href);

const [chdbPath, accountsPath, windowArg, roundsArg, readersArg] = process.argv.slice(2);
if (!chdbPath || !accountsPath) throw new Error('usage: history-ab.mjs <chdbPath> <accounts.json> [windowMs] [rounds] [readers]');
const windowMs = Number(windowArg ?? 10_000);
const rounds = Number(roundsArg ?? 2);
const readers = Number(readersArg ?? 16);
const { ids, heavy } = JSON.parse(readFileSync(accountsPath, 'utf8'));
const benchAccounts = ids.slice(0, 2_500);

// The service's defaults (config.ts): 256 MiB per query, 64 MiB caches, 768 MiB engine.
const { client } = await openClickHouse({ chdbPath, requestTimeoutMs: 60_000, queryMemoryMibMax: 256, cacheMibMax: 64, engineMemoryMibMax: 768 });
const store = new OperationsStore(client, 'wallet_analytics');
await store.ensureSchema();
const noop = { inc() {} };
const counters = () => {
  const c = { hits: 0, misses: 0, shared: 0 };
  return { c, metrics: { hits: { inc: () => (c.hits += 1) }, misses: { inc: () => (c.misses += 1) }, shared: { inc: () => (c.shared += 1) } } };
};

const firstPage = (accountId) => normalizeOperationsQuery({ accountId, pageSize: 20, pageToken: '', types: [] });
let deep = firstPage(heavy);
for (let page = 1; page <= 250; page += 1) deep = { ...deep, after: (await store.listOperations(deep)).next };

// Batched first pages must be exactly the single reads' pages (same rows, same cursor).
const sample = [...benchAccounts.slice(0, 40), heavy];
const batched = await store.listFirstPages(sample, 20);
for (const accountId of sample) {
  const single = await store.listOperations(firstPage(accountId));
  const same = (a, b) => JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) === JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
  if (!same(single, batched.get(accountId))) throw new Error(`batched first page differs for ${accountId}`);
}

const scenarios = {
  'first-page-random': () => firstPage(benchAccounts[Math.floor(Math.random() * benchAccounts.length)]),
  'first-page-heavy': () => firstPage(heavy),
  'page-251-heavy': () => deep,
};

async function window(reader, next) {
  const latencies = [];
  const stopAt = performance.now() + windowMs;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: readers }, async () => {
    while (performance.now() < stopAt) {
      const t = performance.now();
      await reader.listOperations(next());
      latencies.push(performance.now() - t);
    }
  }));
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { reads: latencies.length, perS: (latencies.length / elapsedMs) * 1000, p50: q(0.5), p99: q(0.99), cpuMsPerRead: (cpu.user + cpu.system) / 1000 / latencies.length };
}

const fmt = (r) => `${r.perS.toFixed(0).padStart(6)}/s  p50 ${r.p50.toFixed(2).padStart(7)}  p99 ${r.p99.toFixed(2).padStart(7)} ms  cpu ${r.cpuMsPerRead.toFixed(3).padStart(7)} ms/read`;
console.log(`windows of ${windowMs} ms, ${readers} readers, ${rounds} rounds A,B interleaved; load ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const [name, next] of Object.entries(scenarios)) {
  for (let round = 1; round <= rounds; round += 1) {
    for (const variant of ['A', 'B']) {
      const { c, metrics } = counters();
      const cache = new HistoryCache({ entriesMax: variant === 'A' ? 0 : 10_000, bytesMax: 64 * 2 ** 20, handoverMs: 0, partitionOf: () => 0 });
      cache.setAssignment([0], 1);
      const batcher = variant === 'A' ? undefined : new FirstPageBatcher(store, 32);
      const result = await window(new HistoryReader(store, cache, variant === 'A' ? { hits: noop, misses: noop, shared: noop } : metrics, batcher), next);
      console.log(`${name.padEnd(18)} ${variant} (${variant === 'A' ? 'before  ' : 'cache+batch'}) r${round}: ${fmt(result)}${variant === 'B' ? `  hits ${c.hits} misses ${c.misses} shared ${c.shared}` : ''}`);
    }
  }
}
await store.close();
