#!/usr/bin/env node
// Bounded local ingest that watches the analytics-service's memory: starts a
// private Kafka broker, the built service (dist/main.js) on a fresh chDB
// folder, produces contract-valid transfer events at a fixed rate, and samples
// the process's RSS. Prints one JSON line per sample and a summary.
//
//   node services/analytics-service/bench/ingest-memory.mjs [--rate 1200] [--seconds 240] [--accounts 10000] [--env KEY=VALUE ...]
//
// Needs `npm run build` first (and Java, as for `npm test`).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Producer, stringSerializer } from '@platformatic/kafka';
import { freePort } from '../../../scripts/lib/infra.mjs';
import { ensureKafka, ensureTopics } from '../../../scripts/lib/kafka.mjs';
import { root } from '../../../scripts/lib/paths.mjs';
import { ensurePki, PKI_DIR_DEFAULT, tlsEnvFor } from '../../../scripts/lib/pki.mjs';

// The service requires mutual TLS on its gRPC port: the development PKI (as npm start).
const tlsEnv = tlsEnvFor(await ensurePki({ dir: join(root, PKI_DIR_DEFAULT) }), 'analytics-service');

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '1200' },
    seconds: { type: 'string', default: '240' },
    accounts: { type: 'string', default: '10000' },
    'sample-ms': { type: 'string', default: '5000' },
    env: { type: 'string', multiple: true, default: [] },
  },
});
const ratePerS = Number(values.rate);
const seconds = Number(values.seconds);
const sampleMs = Number(values['sample-ms']);
const accounts = Array.from({ length: Number(values.accounts) }, () => randomUUID());
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));

export function rssMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kib / 1024);
}

const work = mkdtempSync(join(tmpdir(), 'analytics-ingest-memory-'));
const kafka = await ensureKafka({ dataDir: join(work, 'kafka'), port: await freePort(), controllerPort: await freePort(), useEnv: false });
const topic = 'wallet.operations';
await ensureTopics(kafka.brokers, [
  { name: topic, partitions: 3 },
  { name: `${topic}.dlq`, partitions: 1 },
]);
const opsPort = await freePort();
const service = spawn(process.execPath, [join(here, '..', 'dist', 'main.js')], {
  env: {
    ...process.env,
    KAFKA_BROKERS: kafka.brokers,
    ...tlsEnv,
    ANALYTICS_GRPC_PORT: String(await freePort()),
    ANALYTICS_OPS_PORT: String(opsPort),
    ANALYTICS_CHDB_PATH: join(work, 'chdb'),
    LOG_LEVEL: 'warn',
    ...extraEnv,
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const producer = new Producer({ clientId: 'ingest-memory', bootstrapBrokers: kafka.brokers.split(','), serializers: { key: stringSerializer, value: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer } });

function transferPair(nowMs) {
  const from = accounts[Math.floor(Math.random() * accounts.length)];
  const to = accounts[Math.floor(Math.random() * accounts.length)];
  const common = { schemaVersion: 1, occurredAt: new Date(nowMs).toISOString(), transferId: randomUUID(), amount: '1.00', currency: 'USD', description: 'soak' };
  return [
    { ...common, eventId: randomUUID(), eventType: 'transfer_out', accountId: from, counterpartyAccountId: to },
    { ...common, eventId: randomUUID(), eventType: 'transfer_in', accountId: to, counterpartyAccountId: from },
  ];
}

/** Node heap and external memory, and the store engine's own accounting, from /metrics (MiB; parts as a count). */
async function breakdownMiB() {
  const text = await fetch(`http://127.0.0.1:${opsPort}/metrics`).then((r) => r.text(), () => '');
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_external_memory_bytes|analytics_store_memory_bytes|analytics_events_inserted_total)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const kind = /kind="([^"]+)"/.exec(m[2] ?? '')?.[1];
    const name = kind ?? m[1].replace(/^nodejs_|_bytes$/g, '');
    const value = Number(m[3]);
    out[name] = name === 'ActiveParts' || name.startsWith('analytics_events') ? value : Math.round(value / 1048576);
  }
  return out;
}

try {
  for (let i = 0; ; i += 1) {
    const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (i > 600) throw new Error('service not ready within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const startedMs = Date.now();
  const samples = [];
  let sent = 0;
  let nextSampleMs = startedMs;
  while (Date.now() - startedMs < seconds * 1000) {
    const tickMs = Date.now();
    // At most 400 events per send: a lagging loop must not build one request above the broker's size limit.
    const due = Math.min(400, Math.floor(((tickMs - startedMs) / 1000) * ratePerS) - sent);
    if (due > 0) {
      const events = Array.from({ length: Math.ceil(due / 2) }, () => transferPair(tickMs)).flat();
      await producer.send({ messages: events.map((e) => ({ topic, key: e.accountId, value: JSON.stringify(e), headers: { eventType: e.eventType } })) });
      sent += events.length;
    }
    if (tickMs >= nextSampleMs) {
      const sample = { tS: Math.round((tickMs - startedMs) / 1000), sent, rssMiB: rssMiB(service.pid), ...(await breakdownMiB()) };
      samples.push(sample);
      console.log(JSON.stringify(sample));
      nextSampleMs += sampleMs;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const first = samples.find((s) => s.tS >= 60) ?? samples[0];
  const last = samples[samples.length - 1];
  const peak = Math.max(...samples.map((s) => s.rssMiB));
  console.log(JSON.stringify({ summary: true, ratePerS, seconds, sent, rssAfterWarmupMiB: first.rssMiB, rssEndMiB: last.rssMiB, rssPeakMiB: peak, growthAfterWarmupMiB: last.rssMiB - first.rssMiB, env: extraEnv }));
} finally {
  await producer.close().catch(() => {});
  service.kill('SIGTERM');
  await new Promise((r) => service.once('exit', r));
  await kafka.stop();
  rmSync(work, { recursive: true, force: true });
}
