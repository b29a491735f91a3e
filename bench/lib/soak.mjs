// `npm run bench -- --soak [--soak-minutes 30] [--soak-rate 300]`: transfers at
// a fixed rate through REST for N minutes while every service's resident
// memory (VmRSS) is sampled. After a warm-up (a fifth of the run, at least
// one minute) memory must stay flat: each service's growth from the end of
// the warm-up to the end of the run, and its peak, must stay within the
// bounds below, else the soak fails (exit 1). Writes soak.json and soak.md.
// Authenticated like the suite: the bench users log in once, and their tokens
// (15 minutes at most) are refreshed in the background for the whole run.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from '../../scripts/lib/paths.mjs';
import { round } from './closed-loop.mjs';
import { createActors } from './population.mjs';
import { restUniformAtRate } from './scenarios.mjs';
import { BENCH_RATE_LIMIT_ENV, startSystem } from './system.mjs';

/**
 * Documented bounds (services/analytics-service/README.md, "Memory"): growth
 * after warm-up and peak RSS per service, in MiB. The analytics-service's
 * peak follows ANALYTICS_MEMORY_ENGINE_MIB_MAX (768) plus the Node heap.
 */
export const SOAK_BOUNDS_MIB = {
  'analytics-service': { growthMax: 150, peakMax: 1_200 },
  default: { growthMax: 64, peakMax: 512 },
};
const SAMPLE_MS = 10_000;

function rssMiB(pid) {
  try {
    const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    return round(kib / 1024, 1);
  } catch {
    return undefined;
  }
}

/** Growth and peak of each service after the warm-up, checked against the bounds. */
export function evaluateSoak(samples, warmupEndMs) {
  const names = [...new Set(samples.flatMap((s) => Object.keys(s.rssMiB)))];
  return names.map((name) => {
    const series = samples.filter((s) => s.rssMiB[name] !== undefined);
    const afterWarmup = series.filter((s) => s.atMs >= warmupEndMs);
    const start = afterWarmup[0]?.rssMiB[name];
    const end = afterWarmup[afterWarmup.length - 1]?.rssMiB[name];
    const peak = Math.max(...series.map((s) => s.rssMiB[name]));
    const bound = SOAK_BOUNDS_MIB[name] ?? SOAK_BOUNDS_MIB.default;
    const growth = start === undefined || end === undefined ? undefined : round(end - start, 1);
    const met = growth !== undefined && growth <= bound.growthMax && peak <= bound.peakMax;
    return { service: name, rssAtWarmupEndMiB: start, rssEndMiB: end, rssPeakMiB: peak, growthAfterWarmupMiB: growth, bound, met };
  });
}

/** Runs the soak; resolves with the process exit code (0 = every service within its bound). */
export async function runSoak({ minutes = 30, ratePerS = 300, accounts = 10_000, out, keep = false }) {
  if (!(minutes > 0 && minutes <= 24 * 60)) throw new RangeError('--soak-minutes must be 1..1440');
  const startedAtMs = Date.now();
  const stamp = new Date(startedAtMs).toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const outDir = out ?? join(root, 'bench', 'results', `${stamp}-soak`);
  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'wallet-soak-'));
  const log = (line) => console.log(`[soak ${((Date.now() - startedAtMs) / 1000).toFixed(1).padStart(7)}s] ${line}`);
  let system;
  let timer;
  let auth;
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
    const loadStartMs = Date.now();
    const warmupEndMs = loadStartMs + Math.max(60_000, (minutes * 60_000) / 5);
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
    const { histogram: _histogram, ...loadSummary } = load;
    const authentication = {
      mode: 'on (ES256 JWT, verified at gateway and bank)',
      sessions: auth.stats(),
      rateLimits: `raised for the bench: ${Object.entries(BENCH_RATE_LIMIT_ENV).map(([k, v]) => `${k}=${v}`).join(', ')}`,
    };
    const result = { startedAt: new Date(startedAtMs).toISOString(), minutes, ratePerS, authentication, load: loadSummary, services, samples };
    writeFileSync(join(outDir, 'soak.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(outDir, 'soak.md'), soakMarkdown(result));
    for (const s of services) log(`${s.service}: ${s.rssAtWarmupEndMiB} -> ${s.rssEndMiB} MiB after warm-up (growth ${s.growthAfterWarmupMiB}, peak ${s.rssPeakMiB}; bound ${s.bound.growthMax} / ${s.bound.peakMax}): ${s.met ? 'OK' : 'OVER'}`);
    log(`transfers: ${load.ok} ok, ${load.errors} errors (${JSON.stringify(load.errorKinds)}); report ${join(outDir, 'soak.md')}`);
    return services.every((s) => s.met) && load.ok > 0 ? 0 : 1;
  } finally {
    clearInterval(timer);
    auth?.stop();
    await system?.stop();
    if (!keep) rmSync(workDir, { recursive: true, force: true });
  }
}

function soakMarkdown(result) {
  const rows = result.services.map(
    (s) => `| ${s.service} | ${s.rssAtWarmupEndMiB} | ${s.rssEndMiB} | ${s.growthAfterWarmupMiB} | ${s.rssPeakMiB} | ${s.bound.growthMax} / ${s.bound.peakMax} | ${s.met ? 'yes' : '**no**'} |`,
  );
  return [
    `# Soak: ${result.minutes} min at ${result.ratePerS} transfers/s (REST)`,
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
  ].join('\n');
}
