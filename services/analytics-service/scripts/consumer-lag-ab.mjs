#!/usr/bin/env node
// Consumer lag and cost A/B (issue 14, P2), the consumer alone: a private
// Kafka broker, the real OperationsConsumer over the real embedded chDB store
// (services/analytics-service/dist, as production runs it) in this process,
// and a producer child process offering contract-valid events keyed by
// account at a fixed rate with occurredAt = now (as the bank's relay would).
// Per phase: delay of every stored row (occurredAt -> insert acknowledged,
// i.e. durable and readable), CPU ms per event of this process (consumer +
// chDB, merges included) and of the broker, inserts per second. Variants are
// consumer options; phases run interleaved (A B C, C B A, ...), each on a
// fresh topic and consumer group, same store.
//
//   node services/analytics-service/scripts/consumer-lag-ab.mjs \
//     --variant 'w500:batchWaitMsMax=500' --variant 'w50:batchWaitMsMax=50' \
//     [--rate 1000] [--seconds 20] [--rounds 2] [--partitions 3] [--out /tmp/consumer-lag-ab.json]
//
// A variant option `head=1` runs the consumer compiled into dist/consumer-head/
// instead (e.g. the code before a change, transpiled there by hand): before/after
// in one process, interleaved.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { createLogger } from '@wallet/platform';
import { Registry } from 'prom-client';
import { ensureKafka } from '../../../scripts/lib/kafka.mjs';
import { findPidByCmdline } from '../../../bench/lib/procstat.mjs';
import { OperationsConsumer } from '../dist/consumer/operations-consumer.js';
import { createEventValidator } from '../dist/consumer/validator.js';
import { createAnalyticsMetrics } from '../dist/metrics.js';
import { openClickHouse } from '../dist/store/client.js';
import { OperationsStore } from '../dist/store/operations-store.js';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    rounds: { type: 'string', default: '2' },
    partitions: { type: 'string', default: '3' },
    accounts: { type: 'string', default: '1000' },
    out: { type: 'string', default: join(tmpdir(), `consumer-lag-ab-${Date.now()}.json`) },
  },
});
const BASE = {
  batchSizeMax: 1_000,
  batchWaitMsMax: 500,
  fetchWaitMsMax: 500,
  sessionTimeoutMs: 10_000,
  heartbeatIntervalMs: 1_000,
  requestTimeoutMs: 10_000,
  retryDelayMsMax: 2_000,
  lagIntervalMs: 60_000,
  storeAttemptsMax: 10,
  groupInstanceId: '',
};
const variants = args.variant.map((text) => {
  const [name, spec = ''] = text.split(/:(.*)/s);
  const options = {};
  for (const item of spec.split(',').filter(Boolean)) {
    const [key, value] = item.split('=');
    options[key.trim()] = Number(value);
  }
  return { name, options };
});
const log = (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
const round = (v, d = 1) => Math.round(v * 10 ** d) / 10 ** d;
const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);
const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
const ticks = (pid) => {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
};
const CLK_TCK = 100;

const workDir = mkdtempSync(join(tmpdir(), 'consumer-lag-ab-'));
const kafka = await ensureKafka({ dataDir: join(workDir, 'kafka'), port: await freePort(), controllerPort: await freePort(), useEnv: false, log: (l) => log(`kafka: ${l}`) });
const brokerPid = findPidByCmdline(['kafka.Kafka', join(workDir, 'kafka')]);
const clickhouse = await openClickHouse({ chdbPath: join(workDir, 'chdb'), requestTimeoutMs: 30_000, queryMemoryMibMax: 512, cacheMibMax: 64, engineMemoryMibMax: 1024 });
const store = new OperationsStore(clickhouse.client, 'analytics');
await store.ensureSchema();
const admin = new Admin({ clientId: 'lag-ab-admin', bootstrapBrokers: [kafka.brokers] });
const logger = createLogger('consumer-lag-ab', 'warn');
const phases = [];

/** A sink that notes each stored row's delay (occurredAt -> insert acknowledged) and the inserts. */
function timedSink(stats) {
  return {
    target: store.target,
    existingEventIds: (rows) => store.existingEventIds(rows),
    insert: async (rows) => {
      await store.insert(rows);
      const nowMicros = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
      stats.inserts += 1;
      for (const row of rows) stats.delaysMs.push(Number(nowMicros - row.createdAtMicros) / 1000);
    },
  };
}

/** The producer child: `rate` events/s for `seconds`, keyed by account, occurredAt stamped at send. */
const PRODUCER = `
import { Producer, stringSerializers } from '@platformatic/kafka';
import { randomUUID } from 'node:crypto';
const [brokers, topic, rate, seconds, accountsCount] = process.argv.slice(1);
const producer = new Producer({ clientId: 'lag-ab-producer', bootstrapBrokers: [brokers], serializers: stringSerializers, idempotent: true, acks: -1 });
const accounts = Array.from({ length: Number(accountsCount) }, () => randomUUID());
const tickMs = 10;
const startedAt = Date.now();
const endAt = startedAt + Number(seconds) * 1000;
let sent = 0;
while (Date.now() < endAt) {
  const t0 = Date.now();
  // Owed by the clock, not per tick: a slow send is followed by a larger one (offered rate kept).
  const n = Math.min(2000, Math.floor(((t0 - startedAt) * Number(rate)) / 1000) - sent);
  if (n > 0) {
    const occurredAt = new Date().toISOString().replace('Z', '000Z');
    const messages = Array.from({ length: n }, () => {
      const accountId = accounts[Math.floor(Math.random() * accounts.length)];
      const event = { eventId: randomUUID(), eventType: 'transfer_in', schemaVersion: 1, occurredAt, accountId, counterpartyAccountId: randomUUID(), transferId: randomUUID(), amount: '1.00', currency: 'USD' };
      return { topic, key: accountId, value: JSON.stringify(event), headers: { eventType: 'transfer_in' } };
    });
    await producer.send({ messages });
    sent += n;
  }
  const spent = Date.now() - t0;
  if (spent < tickMs) await new Promise((r) => setTimeout(r, tickMs - spent));
}
await producer.close();
console.log(JSON.stringify({ sent }));
`;

function produce(topic) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PRODUCER, kafka.brokers, topic, args.rate, args.seconds, args.accounts], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').at(-1))) : reject(new Error(`producer exited ${code}`))));
  });
}

async function waitFor(check, timeoutMs) {
  const endAt = Date.now() + timeoutMs;
  while (Date.now() < endAt) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

async function runPhase(variant, r) {
  const id = `${variant.name}-r${r}`;
  const topic = `lag-ab-${id}-${Date.now()}`;
  await admin.createTopics({ topics: [topic, `${topic}.dlq`], partitions: Number(args.partitions), replicas: 1 });
  const stats = { inserts: 0, delaysMs: [] };
  const metrics = createAnalyticsMetrics(new Registry());
  const { head, ...options } = variant.options;
  const Consumer = head ? (await import('../dist/consumer-head/operations-consumer.js')).OperationsConsumer : OperationsConsumer;
  const consumer = new Consumer(
    { ...BASE, ...options, brokers: [kafka.brokers], clientId: 'lag-ab', groupId: `lag-ab-${id}-${Date.now()}`, topic, dlqTopic: `${topic}.dlq` },
    { sink: timedSink(stats), validator: createEventValidator(), metrics, logger },
  );
  consumer.start();
  await waitFor(async () => consumer.membership().partitions.length === Number(args.partitions), 60_000);
  const cpu0 = process.cpuUsage();
  const broker0 = ticks(brokerPid);
  const load0 = loadavg()[0];
  const { sent } = await produce(topic);
  const drained = await waitFor(async () => stats.delaysMs.length >= sent, 60_000);
  const cpu = process.cpuUsage(cpu0);
  const brokerCpuMs = ((ticks(brokerPid) - broker0) / CLK_TCK) * 1000;
  await consumer.stop();
  const sorted = stats.delaysMs.sort((a, b) => a - b);
  const phase = {
    id,
    variant: variant.name,
    options: variant.options,
    sent,
    stored: sorted.length,
    drained,
    inserts: stats.inserts,
    eventsPerInsert: round(sorted.length / Math.max(1, stats.inserts), 1),
    delayMs: { p50: round(quantile(sorted, 0.5)), p90: round(quantile(sorted, 0.9)), p99: round(quantile(sorted, 0.99)), max: round(sorted.at(-1) ?? NaN) },
    cpuMsPerEvent: round((cpu.user + cpu.system) / 1000 / Math.max(1, sorted.length), 4),
    brokerCpuMsPerEvent: round(brokerCpuMs / Math.max(1, sorted.length), 4),
    loadAvg: [round(load0, 1), round(loadavg()[0], 1)],
  };
  phases.push(phase);
  log(`${id}: ${phase.stored}/${sent} stored in ${phase.inserts} inserts (${phase.eventsPerInsert}/insert), delay p50 ${phase.delayMs.p50} p90 ${phase.delayMs.p90} p99 ${phase.delayMs.p99} max ${phase.delayMs.max} ms, CPU ${phase.cpuMsPerEvent} ms/event (+ broker ${phase.brokerCpuMsPerEvent}), load ${phase.loadAvg.join('->')}`);
  // Let the merges of this phase's parts settle before the next phase measures CPU.
  await new Promise((r) => setTimeout(r, 3_000));
}

try {
  for (let r = 1; r <= Number(args.rounds); r += 1) {
    for (const variant of r % 2 === 1 ? variants : [...variants].reverse()) await runPhase(variant, r);
  }
} finally {
  writeFileSync(args.out, JSON.stringify({ args, base: BASE, phases }, null, 2));
  await admin.close().catch(() => {});
  await store.close().catch(() => {});
  await kafka.stop();
  rmSync(workDir, { recursive: true, force: true });
}
console.log(`\nrate ${args.rate}/s for ${args.seconds} s, ${args.partitions} partitions\n`);
console.log('| phase | options | events/insert | delay p50 / p90 / p99 / max ms | CPU ms/event (consumer+chDB) | broker CPU ms/event | load |');
console.log('|---|---|---|---|---|---|---|');
for (const p of phases) {
  console.log(`| ${p.id} | ${JSON.stringify(p.options)} | ${p.eventsPerInsert} | ${p.delayMs.p50} / ${p.delayMs.p90} / ${p.delayMs.p99} / ${p.delayMs.max} | ${p.cpuMsPerEvent} | ${p.brokerCpuMsPerEvent} | ${p.loadAvg.join('→')} |`);
}
console.log(`\nresults: ${args.out}`);
process.exit(0);
