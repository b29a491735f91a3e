#!/usr/bin/env node
// CPU and wall time of one store query on embedded chDB by size (issue 14,
// P2): insert and existing-id lookup of 1, 10, 100, 1000 rows, through the
// service's own store code (dist/). Shows the fixed cost per query that made
// a lookup + insert per partition per flush expensive, and why the consumer
// groups its store steps. `node services/analytics-service/scripts/chdb-query-cost.mjs`
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openClickHouse } from '../dist/store/client.js';
import { OperationsStore } from '../dist/store/operations-store.js';
const dir = mkdtempSync(join(tmpdir(), 'chdb-cost-'));
const ch = await openClickHouse({ chdbPath: join(dir, 'chdb'), requestTimeoutMs: 30000, queryMemoryMibMax: 512, cacheMibMax: 64, engineMemoryMibMax: 1024 });
const store = new OperationsStore(ch.client, 'analytics');
await store.ensureSchema();
const accounts = Array.from({ length: 1000 }, () => randomUUID());
const rowsOf = (n) => Array.from({ length: n }, () => ({ eventId: randomUUID(), accountId: accounts[Math.floor(Math.random() * 1000)], type: 'transfer_in', createdAtMicros: BigInt(Date.now()) * 1000n, amountMinor: 100n, currency: 'USD', counterpartyAccountId: randomUUID(), transferId: randomUUID(), topUpId: '', depositId: '', description: '', cardLast4: '', cardBrand: '', initiatedBy: '' }));
async function measure(label, n, iters, fn) {
  const c0 = process.cpuUsage(); const t0 = performance.now();
  for (let i = 0; i < iters; i++) await fn(rowsOf(n));
  const c = process.cpuUsage(c0); const t = performance.now() - t0;
  console.log(`${label} n=${n}: ${((c.user + c.system) / 1000 / iters).toFixed(2)} ms CPU/call, ${(t / iters).toFixed(1)} ms wall/call, ${((c.user + c.system) / 1000 / iters / n).toFixed(4)} ms CPU/row`);
}
for (const n of [1, 10, 100, 1000]) {
  await measure('insert', n, n >= 1000 ? 10 : 30, (rows) => store.insert(rows));
  await measure('lookup', n, n >= 1000 ? 10 : 30, (rows) => store.existingEventIds(rows));
}
await store.close(); rmSync(dir, { recursive: true, force: true });
process.exit(0);
