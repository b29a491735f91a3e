// `npm run bench -- --soak [--soak-minutes 30] [--soak-rate 300]`: transfers at
// a fixed rate through REST for N minutes while every service's resident
// memory (VmRSS) is sampled. After a warm-up (a fifth of the run, at least
// one minute) memory must stay flat: each service's growth from the end of
// the warm-up to the end of the run, and its peak, must stay within its
// documented bound (bench/lib/memory-bounds.mjs), else the soak fails (exit 1).
// Writes soak.json and soak.md. `--soak --quick`: a 2-minute smoke form.
// Authenticated like the suite: the bench users log in once, and their tokens
// (15 minutes at most) are refreshed in the background for the whole run.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from '../../scripts/lib/paths.mjs';
import { round } from './closed-loop.mjs';
import { checkMemory, isBoundedService, MEMORY_BOUNDS_MIB } from './memory-bounds.mjs';
import { createActors } from './population.mjs';
import { restUniformAtRate } from './scenarios.mjs';
import { BENCH_RATE_LIMIT_ENV, startSystem } from './system.mjs';
import { BENCH_WEBHOOK_ENV, registerBenchWebhooks, startBenchWebhookReceiver, webhookLine, webhookMarkdown, webhookResult } from './webhooks.mjs';

/** The documented bounds, one table for the suite and the soak (bench/lib/memory-bounds.mjs). */
export const SOAK_BOUNDS_MIB = MEMORY_BOUNDS_MIB;
const SAMPLE_MS = 10_000;

function rssMiB(pid) {
  try {
    const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return round(kib / 1024, 1);
  } catch {
    return undefined;
  }
}

/**
 * Growth and peak of each service after the warm-up, checked against its
 * documented bound. A service with no sample after the warm-up fails (it
 * died, or the run was shorter than its warm-up): nothing was checked.
 */
export function evaluateSoak(samples, warmupEndMs) {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.rssMiB)))].filter(isBoundedService);
  return names.map((name) => {
    const series = samples.filter((s) => s.rssMiB[name] !== undefined);
    const afterWarmup = series.filter((s) => s.atMs >= warmupEndMs);
    const start = afterWarmup[0]?.rssMiB[name];
    const end = afterWarmup[afterWarmup.length - 1]?.rssMiB[name];
    const peak = Math.max(...series.map((s) => s.rssMiB[name]));
    const check = checkMemory(name, { startMiB: start, endMiB: end, peakMiB: peak });
    return { service: name, rssAtWarmupEndMiB: start, rssEndMiB: end, rssPeakMiB: peak, growthAfterWarmupMiB: check.growthMiB, bound: check.bound, met: check.met, why: check.why };
  });
}

/** Runs the soak; resolves with the process exit code (0 = every service within its bound). */
export async function runSoak({ minutes = 30, ratePerS = 300, accounts = 10_000, quick = false, out, keep = false }) {
  if (!(minutes > 0 && minutes <= 24 * 60)) throw new RangeError('--soak-minutes must be 1..1440');
  if (!(ratePerS > 0 && ratePerS <= 10_000)) throw new RangeError('--soak-rate must be 1..10,000');
  const startedAtMs = Date.now();
  const stamp = new Date(startedAtMs).toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const outDir = out ?? join(root, 'bench', 'results', `${stamp}-soak${quick ? '-quick' : ''}`);
  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'wallet-soak-'));
  const log = (line) => console.log(`[soak ${((Date.now() - startedAtMs) / 1000).toFixed(1).padStart(7)}s] ${line}`);
  let system;
  let timer;
  let auth;
  let receiver;
  const samples = [];
  try {
    system = await startSystem({ workDir, accounts, historyRows: 0, log, logDir: join(workDir, 'logs') });
    const sample = () => {
      const rss = {};
      for (const proc of Object.values(system.processes)) {
        const value = proc.pid ? rssMiB(proc.pid) : undefined;
        if (value !== undefined) rss[proc.name] = value;
      }
      samples.push({ atMs: Date.now(), rssMiB: rss });
    };
    // One login per user (the open loop's actors) before the clock starts; refreshed throughout.
    auth = createActors({ endpoints: system.authEndpoints, users: system.users, hot: system.hotUser, log });
    await auth.prepare({ workers: system.users.length });
    // Webhooks (issue 15): every bench user registers one endpoint for every event type on the bench's receiver.
    let webhookSinceMs;
    if (system.processes.webhooks) {
      receiver = await startBenchWebhookReceiver();
      webhookSinceMs = Date.now();
      await auth.pool.ensure([['hot0', system.hotUser.username]]);
      const actors = [...system.users.map((user, i) => ({ username: user.username, headers: auth.worker(i).headers })), { username: system.hotUser.username, headers: auth.hotWorker(0).headers }];
      await registerBenchWebhooks({ baseUrl: system.baseUrl, actors, receiver, runId: stamp });
      log(`webhooks: ${actors.length} endpoints (every event type) registered on the bench's receiver`);
    }
    const loadStartMs = Date.now();
    // A fifth of the run, at least a minute (half of a run shorter than two minutes).
    const warmupEndMs = loadStartMs + Math.min(Math.max(60_000, (minutes * 60_000) / 5), (minutes * 60_000) / 2);
    sample();
    timer = setInterval(() => {
      sample();
      const last = samples[samples.length - 1];
      log(`rss ${Object.entries(last.rssMiB).map(([k, v]) => `${k}=${v}`).join(' ')}`);
    }, SAMPLE_MS);
    log(`driving ${ratePerS} transfers/s through REST for ${minutes} min (warm-up until +${Math.round((warmupEndMs - loadStartMs) / 1000)} s)`);
    const ctx = { baseUrl: system.baseUrl, accounts: system.accounts, auth, durations: { loadMs: minutes * 60_000, warmupMs: 0 } };
    const load = await restUniformAtRate(ctx, ratePerS);
    clearInterval(timer);
    sample();
    const services = evaluateSoak(samples, warmupEndMs);
    // Deliveries, lag and what is left undelivered at the load's end (then a bounded drain).
    let webhooks;
    if (receiver) {
      try {
        webhooks = await webhookResult({ receiver, databaseUrl: system.databaseUrl, sinceMs: webhookSinceMs, drainMs: quick ? 20_000 : 60_000 });
      } catch (error) {
        webhooks = { error: error.message.split('\n')[0] };
      }
    }
    const { histogram: _histogram, ...loadSummary } = load;
    const authentication = {
      mode: 'on (ES256 JWT, verified at gateway and bank)',
      sessions: auth.stats(),
      rateLimits:
        `raised for the bench: ${Object.entries(BENCH_RATE_LIMIT_ENV).map(([k, v]) => `${k}=${v}`).join(', ')}; ` +
        `webhook-service ${Object.entries(BENCH_WEBHOOK_ENV).map(([k, v]) => `${k}=${v}`).join(', ')} (the bench's receiver is on loopback)`,
    };
    const result = { startedAt: new Date(startedAtMs).toISOString(), minutes, ratePerS, quick, warmupS: Math.round((warmupEndMs - loadStartMs) / 1000), authentication, load: loadSummary, services, webhooks, samples };
    writeFileSync(join(outDir, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(outDir, 'soak.md'), soakMarkdown(result));
    for (const s of services) log(`${s.service}: ${s.rssAtWarmupEndMiB} -> ${s.rssEndMiB} MiB after warm-up (growth ${s.growthAfterWarmupMiB}, peak ${s.rssPeakMiB}; bound +${s.bound.growthMiBMax} / ${s.bound.peakMiBMax}): ${s.met ? 'OK' : `OVER (${s.why})`}`);
    if (webhooks) log(webhooks.error ? `webhooks: not measured (${webhooks.error})` : webhookLine(webhooks));
    log(`transfers: ${load.ok} ok, ${load.errors} errors (${JSON.stringify(load.errorKinds)}); report ${join(outDir, 'soak.md')}`);
    // A delivery whose signature does not verify fails the soak like a bound.
    const webhooksOk = !webhooks || (!webhooks.error && webhooks.afterDrain.invalidSignatures === 0);
    return services.every((s) => s.met) && load.ok > 0 && webhooksOk ? 0 : 1;
  } finally {
    clearInterval(timer);
    auth?.stop();
    await receiver?.close();
    await system?.stop();
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
}

function soakMarkdown(result) {
  const rows = result.services.map(
    (s) => `| ${s.service} | ${s.rssAtWarmupEndMiB ?? '–'} | ${s.rssEndMiB ?? '–'} | ${s.growthAfterWarmupMiB ?? '–'} | ${s.rssPeakMiB} | +${s.bound.growthMiBMax} / ${s.bound.peakMiBMax} (${s.bound.source}) | ${s.met ? 'yes' : `**no**: ${s.why}`} |`,
  );
  return [
    `# Soak: ${result.minutes} min at ${result.ratePerS} transfers/s (REST)${result.quick ? ' — quick smoke form, not the 30-minute check' : ''}`,
    '',
    `Every service's resident set (VmRSS) sampled every ${SAMPLE_MS / 1000} s; warm-up ${result.warmupS} s; bounds from \`bench/lib/memory-bounds.mjs\` (growth after the warm-up / peak).`,
    '',
    `Started ${result.startedAt}. Transfers: ${result.load.ok} ok, ${result.load.errors} errors; latency p50 ${result.load.latency?.p50Ms ?? '?'} ms, p99 ${result.load.latency?.p99Ms ?? '?'} ms.`,
    '',
    `Authentication: ${result.authentication.mode}; ${result.authentication.sessions.sessions} sessions, ${result.authentication.sessions.logins} logins, ` +
      `${result.authentication.sessions.refreshes} token refreshes (lifetime ${result.authentication.sessions.tokenLifetimeS} s), ` +
      `${result.authentication.sessions.refreshFailures} failed. Rate limits ${result.authentication.rateLimits}.`,
    '',
    '| service | RSS at warm-up end (MiB) | RSS at end | growth | peak | bound growth / peak | within |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...webhookMarkdown(result.webhooks),
  ].join('\n');
}
