#!/usr/bin/env node
// Event lag A/B (issue 14, P2): one system started as the bench starts it
// (auth + mTLS, bench/lib/system.mjs), then the bench's own event-lag scenario
// (REST transfers at concurrency c + probes polling /operations, 201 ->
// visible) under several configurations of the relay and the consumer,
// interleaved A, B, A, B ... so a shared machine's drift shows as spread
// between rounds, not as a difference between variants. Each phase restarts
// the services a variant names (even when it is the same as before, so every
// phase starts alike), warms up, measures; CPU ms per transfer of every
// process group from /proc (bench/lib/procstat.mjs).
//
//   node services/analytics-service/scripts/event-lag-ab.mjs \
//     --variant 'base:analytics.ANALYTICS_BATCH_WAIT_MS_MAX=500' \
//     --variant 'w50:analytics.ANALYTICS_BATCH_WAIT_MS_MAX=50' \
//     [--rounds 2] [--concurrency 128] [--lag-ms 15000] [--accounts 1000] [--history-rows 0] [--out /tmp/lag-ab.json]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startSampler } from '../../../bench/lib/procstat.mjs';
import * as sc from '../../../bench/lib/scenarios.mjs';
import { createActors } from '../../../bench/lib/population.mjs';
import { ensureDir, postmasterPid, startSystem } from '../../../bench/lib/system.mjs';

const { values: args } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '2' },
    concurrency: { type: 'string', default: '128' },
    'lag-ms': { type: 'string', default: '15000' },
    'warmup-ms': { type: 'string', default: '4000' },
    accounts: { type: 'string', default: '1000' },
    'history-rows': { type: 'string', default: '0' },
    out: { type: 'string', default: join(tmpdir(), `event-lag-ab-${Date.now()}.json`) },
  },
});

/** 'name:service.ENV=V,service.ENV=V' -> { name, env: { service: { ENV: V } } } */
function parseVariant(text) {
  const [name, spec = ''] = text.split(/:(.*)/s);
  const env = {};
  for (const item of spec.split(',').filter(Boolean)) {
    const match = /^(\w+)\.(\w+)=(.*)$/.exec(item.trim());
    if (!match) throw new Error(`bad variant item ${item} (want service.ENV=value)`);
    (env[match[1]] ??= {})[match[2]] = match[3];
  }
  return { name, env };
}

const variants = args.variant.map(parseVariant);
if (variants.length < 2) throw new Error('give at least two --variant');
const rounds = Number(args.rounds);
const concurrency = Number(args.concurrency);
const log = (line) => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`);
const round = (v, d = 1) => (v === undefined ? undefined : Math.round(v * 10 ** d) / 10 ** d);
const workDir = mkdtempSync(join(tmpdir(), 'event-lag-ab-'));
const restartKeys = [...new Set(variants.flatMap((v) => Object.keys(v.env)))];

let system;
let sampler;
let auth;
const phases = [];
try {
  system = await startSystem({
    workDir,
    accounts: Number(args.accounts),
    historyRows: Number(args['history-rows']),
    logDir: ensureDir(join(workDir, 'logs')),
    log,
    onPopulation: async (sys) => {
      auth = createActors({ endpoints: sys.authEndpoints, users: sys.users, hot: sys.hotUser, log });
      await auth.prepare({ workers: Math.max(concurrency, sys.users.length) + 2 });
    },
  });
  const groups = [{ name: 'bench (load generator)', pid: process.pid }];
  for (const proc of Object.values(system.processes)) groups.push({ name: proc.name, pid: proc.pid });
  groups.push({ name: 'postgres', tree: postmasterPid(system.postgresDataDir) });
  groups.push({ name: 'kafka', cmdline: ['kafka.Kafka', system.kafkaDataDir] });
  sampler = startSampler({ groups, intervalMs: 1000 });
  const ctx = {
    baseUrl: system.baseUrl,
    accounts: system.accounts,
    auth,
    durations: { warmupMs: 1_000, loadMs: Number(args['warmup-ms']), lagMs: Number(args['lag-ms']) },
  };
  for (let r = 1; r <= rounds; r += 1) {
    // Alternate the order each round (A B, B A, ...): neither variant always runs first after a restart.
    const order = r % 2 === 1 ? variants : [...variants].reverse();
    for (const variant of order) {
      for (const key of restartKeys) {
        const pid = await system.restart(key, variant.env[key] ?? {});
        sampler.setPids(system.processes[key].name, [pid]);
      }
      await sc.restUniform(ctx, 32); // warm-up (JIT, pools, consumer joined), not counted
      const id = `${variant.name}-r${r}`;
      await sampler.mark(id);
      const loadBefore = loadavg()[0];
      const result = await sc.eventLag(ctx, concurrency);
      await sampler.mark(`${id}-gap`);
      const { lagHistogram: _lagHistogram, ...rest } = result;
      const phase = { id, variant: variant.name, round: r, env: variant.env, throughputPerS: rest.throughputPerS, completed: rest.completed, errors: rest.errors, lag: rest.lag, loadAvg: [round(loadBefore, 2), round(loadavg()[0], 2)] };
      phases.push(phase);
      log(`${id}: ${phase.throughputPerS}/s, lag p50 ${phase.lag.p50Ms} p99 ${phase.lag.p99Ms} max ${phase.lag.maxMs} ms (seen ${phase.lag.seen}, not seen ${phase.lag.notSeen}), load ${phase.loadAvg.join(' -> ')}`);
    }
  }
} finally {
  auth?.stop();
  const segments = (await sampler?.stop())?.segments ?? [];
  for (const phase of phases) {
    const seg = segments.find((s) => s.name === phase.id);
    if (seg && phase.completed) phase.cpuMsPerTransfer = Object.fromEntries(Object.entries(seg.groups).map(([g, v]) => [g, round((v.cpuS * 1000) / phase.completed, 3)]));
    if (phase.cpuMsPerTransfer) phase.cpuMsPerTransferAll = round(Object.values(phase.cpuMsPerTransfer).reduce((a, b) => a + b, 0), 3);
  }
  writeFileSync(args.out, JSON.stringify({ args, phases }, null, 2));
  await system?.stop();
  rmSync(workDir, { recursive: true, force: true });
}
console.log('\n| phase | transfers/s | lag p50 / p99 / max ms | seen | CPU ms/transfer all | bank | analytics | kafka | load |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const p of phases) {
  const c = p.cpuMsPerTransfer ?? {};
  console.log(`| ${p.id} | ${p.throughputPerS} | ${p.lag.p50Ms} / ${p.lag.p99Ms} / ${p.lag.maxMs} | ${p.lag.seen} | ${p.cpuMsPerTransferAll ?? '–'} | ${c['bank-service'] ?? '–'} | ${c['analytics-service'] ?? '–'} | ${c.kafka ?? '–'} | ${p.loadAvg.join('→')} |`);
}
console.log(`\nresults: ${args.out}`);
process.exit(0);
