#!/usr/bin/env node
// How long the analytics-service takes to consume again after kill -9: starts
// a private Kafka broker and the built service, lets it join and consume,
// SIGKILLs it, restarts it and times (a) /readyz and (b) the first new event
// stored (analytics_events_inserted_total > 0 in the new process).
//
//   node services/analytics-service/bench/restart-time.mjs [--runs 3] [--env KEY=VALUE ...]
//
// Needs `npm run build` first (and Java, as for `npm test`).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
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
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, env: { type: 'string', multiple: true, default: [] } } });
const extraEnv = Object.fromEntries(values.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const DEADLINE_MS = 120_000;

const work = mkdtempSync(join(tmpdir(), 'analytics-restart-'));
const kafka = await ensureKafka({ dataDir: join(work, 'kafka'), port: await freePort(), controllerPort: await freePort(), useEnv: false });
const topic = 'wallet.operations';
await ensureTopics(kafka.brokers, [
  { name: topic, partitions: 3 },
  { name: `${topic}.dlq`, partitions: 1 },
]);
const producer = new Producer({ clientId: 'restart-time', bootstrapBrokers: kafka.brokers.split(','), serializers: { key: stringSerializer, value: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer } });
const env = { ...process.env, KAFKA_BROKERS: kafka.brokers, ...tlsEnv, ANALYTICS_GRPC_PORT: String(await freePort()), ANALYTICS_OPS_PORT: String(await freePort()), ANALYTICS_CHDB_PATH: join(work, 'chdb'), LOG_LEVEL: 'warn', ...extraEnv };
const ops = `http://127.0.0.1:${env.ANALYTICS_OPS_PORT}`;

async function produce(count) {
  const messages = Array.from({ length: count }, (_, i) => {
    const accountId = randomUUID();
    const event = { eventId: randomUUID(), eventType: 'transfer_in', schemaVersion: 1, occurredAt: new Date().toISOString(), accountId, counterpartyAccountId: randomUUID(), transferId: randomUUID(), amount: `${i + 1}.00`, currency: 'USD' };
    return { topic, key: accountId, value: JSON.stringify(event), headers: { eventType: event.eventType } };
  });
  await producer.send({ messages });
}

async function inserted() {
  const text = await fetch(`${ops}/metrics`).then((r) => r.text(), () => '');
  return Number(/^analytics_events_inserted_total(?:\{[^}]*\})? (\S+)$/m.exec(text)?.[1] ?? 0);
}

async function until(what, check, startMs) {
  while (Date.now() - startMs < DEADLINE_MS) {
    if (await check()) return Date.now() - startMs;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not within ${DEADLINE_MS} ms`);
}

function start() {
  return spawn(process.execPath, [join(here, '..', 'dist', 'main.js')], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

let service = start();
try {
  const results = [];
  await until('first start consuming', async () => {
    await produce(3);
    return (await inserted()) > 0;
  }, Date.now());
  for (let run = 1; run <= Number(values.runs); run += 1) {
    service.kill('SIGKILL');
    await new Promise((r) => service.once('exit', r));
    const startMs = Date.now();
    service = start();
    const readyMs = await until('ready', () => fetch(`${ops}/readyz`).then((r) => r.ok, () => false), startMs);
    // Events produced after the restart, on every partition: consumed only once the group gave us partitions.
    const consumingMs = await until('consuming', async () => {
      await produce(3);
      return (await inserted()) > 0;
    }, startMs);
    results.push({ run, readyMs, consumingMs });
    console.log(JSON.stringify({ run, readyMs, consumingMs }));
  }
  console.log(JSON.stringify({ summary: true, env: extraEnv, consumingMsMax: Math.max(...results.map((r) => r.consumingMs)), results }));
} finally {
  service.kill('SIGKILL');
  await producer.close().catch(() => {});
  await kafka.stop();
  rmSync(work, { recursive: true, force: true });
}
