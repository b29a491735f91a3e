// `npm run bench -- --scale [--quick]` (issue 14, "cost as the work grows"):
// one system, started with 1 partition of the operations topic, then
//   1. relay + consumer at 1 partition (transfers with event-lag probes),
//   2. partitions raised to 3 (CreatePartitions, bank + analytics restarted): the same,
//   3. REST transfers at the base accounts level, N more accounts seeded with the
//      bank CLI, then the large level, the base subset of it, the large level again,
//   4. history first page at the base history size,
//   5. partitions raised to 12: relay + consumer again (base accounts),
//   6. the analytics-service stopped, a larger history bulk-loaded into a fresh
//      chDB folder (the largest size that fits the time budget and the disk),
//      started again: history first page at that size.
// CPU per operation per process from bench/lib/procstat.mjs. Writes
// scale.json, scale-report.md and scale.png (bench/lib/scale-report.mjs).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { root } from '../../scripts/lib/paths.mjs';
import { round } from './closed-loop.mjs';
import { checkpoint } from './pgbench.mjs';
import { createActors } from './population.mjs';
import { loadHistory, postmasterPid, startSystem } from './system.mjs';
import { startSampler } from './procstat.mjs';
import * as sc from './scenarios.mjs';
import { cpuMsPer, historyRowsThatFit, promSum, renderScaleChart, scaleMarkdown, scaleVerdicts } from './scale-report.mjs';

const LARGE_LOAD_SLOWDOWN = 1.5;

export const SCALE_PLANS = Object.freeze({
  full: {
    mode: 'full',
    budgetS: 1_500,
    restartWarmupMs: 10_000,
    // Kept for what follows the large history load: the analytics restart, its reads, stopping the system.
    historyReserveS: 90,
    accounts: { base: 10_000, large: 1_000_000, concurrency: 128, warmupMs: 1_000, loadMs: 15_000 },
    history: { baseRows: 10_000_000, candidates: [100_000_000, 50_000_000, 20_000_000], readers: 16, warmupMs: 1_000, loadMs: 10_000 },
    partitions: { counts: [1, 3, 12], concurrency: 128, warmupMs: 1_000, lagMs: 20_000 },
  },
  quick: {
    mode: 'quick',
    budgetS: 300,
    restartWarmupMs: 2_000,
    historyReserveS: 40,
    accounts: { base: 10_000, large: 50_000, concurrency: 64, warmupMs: 500, loadMs: 3_000 },
    history: { baseRows: 200_000, candidates: [1_000_000, 500_000], readers: 16, warmupMs: 500, loadMs: 2_500 },
    partitions: { counts: [1, 3, 12], concurrency: 64, warmupMs: 500, lagMs: 4_000 },
  },
});

/** Bytes under a folder (the chDB data: its size per stored row decides whether the large level fits the disk). */
function dirBytes(path) {
  let bytes = 0;
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return 0; // the engine removed a temporary part while we walked: it counts for nothing
  }
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) bytes += dirBytes(full);
    else if (entry.isFile()) bytes += fileBytes(full);
  }
  return bytes;
}

function fileBytes(path) {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

async function scrape(port, names) {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    return Object.fromEntries(names.map((n) => [n, promSum(text, n)]));
  } catch {
    return {};
  }
}

async function raisePartitions(brokers, count) {
  const { Admin } = await import('@platformatic/kafka');
  const { OPERATIONS_TOPIC } = await import('@wallet/contracts');
  const admin = new Admin({ clientId: 'wallet-bench-scale', bootstrapBrokers: brokers.split(','), timeout: 10_000, retries: 3 });
  try {
    await admin.createPartitions({ topics: [{ name: OPERATIONS_TOPIC, count }] });
  } finally {
    await admin.close();
  }
}

/** The bank CLI seeds `count` accounts owned round-robin by the bench users; resolves with { ownerId: [ids] } and seconds. */
function seedMore(databaseUrl, count, users, workDir) {
  const outFile = join(workDir, `seed-${count}.jsonl`);
  const t0 = Date.now();
  const child = spawn(
    process.execPath,
    [join(root, 'services', 'bank-service', 'dist', 'cli', 'seed-accounts.js'), '--count', String(count), '--balance', '1000.00', '--owners', users.map((u) => u.userId).join(','), '--format', 'jsonl', '--out', outFile],
    { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  child.stderr.on('data', (c) => (err = (err + c).slice(-4_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), 900_000);
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`seed-accounts failed (exit ${code}): ${err}`));
      const byOwner = new Map(users.map((u) => [u.userId, []]));
      for (const line of readFileSync(outFile, 'utf8').split('\n')) {
        if (!line) continue;
        const { accountId, ownerId } = JSON.parse(line);
        byOwner.get(ownerId)?.push(accountId);
      }
      rmSync(outFile, { force: true });
      resolve({ byOwner, seedS: round((Date.now() - t0) / 1000, 1) });
    });
  });
}

async function analyzeAccounts(databaseUrl) {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
  await checkpoint(databaseUrl);
}

/** Resolves with the process exit code (0 = every phase measured, whether or not the goals were met). */
/** What the run starts from dist/ (the suite builds on its own; this mode asks for it). */
const BUILT = ['services/bank-service/dist/cli/seed-accounts.js', 'services/analytics-service/dist/store/operations-store.js', 'packages/contracts/dist/index.js'];

export async function runScale({ quick = false, out, keep = false } = {}) {
  const plan = quick ? SCALE_PLANS.quick : SCALE_PLANS.full;
  const missing = BUILT.filter((p) => !existsSync(join(root, p)));
  if (missing.length) {
    console.error(`bench --scale: not built (${missing.join(', ')}): run npm run build first`);
    return 2;
  }
  const startedAtMs = Date.now();
  const stamp = new Date(startedAtMs).toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const outDir = out ?? join(root, 'bench', 'results', `${stamp}-scale${quick ? '-quick' : ''}`);
  mkdirSync(outDir, { recursive: true });
  const workDir = mkdtempSync(join(tmpdir(), 'wallet-scale-'));
  const logLines = [];
  const log = (line) => {
    const text = `[scale ${((Date.now() - startedAtMs) / 1000).toFixed(1).padStart(6)}s] ${line}`;
    logLines.push(text);
    console.log(text);
  };
  const git = (a) => {
    try {
      return execFileSync('git', a, { cwd: root, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  const la = () => loadavg().map((v) => round(v, 2));
  const result = {
    meta: {
      startedAt: new Date(startedAtMs).toISOString(),
      mode: plan.mode,
      budgetS: plan.budgetS,
      plan,
      node: process.version,
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?' },
      gitCommit: git(['rev-parse', '--short', 'HEAD']),
      gitDirty: git(['status', '--porcelain']).length > 0,
      loadAvgStart: la(),
      notes: [],
    },
  };
  const state = { system: undefined, sampler: undefined, auth: undefined, rows: [], startedAtMs, plan, log, result, workDir };
  let exitCode = 0;
  try {
    await runPhases(state);
  } catch (error) {
    exitCode = 1;
    log(`FAILED: ${error.stack ?? error.message}`);
    result.meta.notes.push(`Run failed: ${error.message.split('\n')[0]}`);
  } finally {
    state.auth?.stop();
    const segments = (await state.sampler?.stop())?.segments ?? [];
    attachCpu(state.rows, segments);
    log('stopping the system');
    await state.system?.stop();
    result.meta.loadAvgEnd = la();
    result.meta.wallS = round((Date.now() - startedAtMs) / 1000, 1);
    if (state.measuringSinceMs) result.meta.measuredS = round((Date.now() - state.measuringSinceMs) / 1000, 1);
    writeFileSync(join(outDir, 'scale.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(outDir, 'scale-report.md'), scaleMarkdown(result));
    try {
      await renderScaleChart(result, outDir);
    } catch (error) {
      log(`chart: ${error.message}`);
      exitCode = 1;
    }
    writeFileSync(join(outDir, 'scale.log'), `${logLines.join('\n')}\n`);
    if (!keep) rmSync(workDir, { recursive: true, force: true });
    else log(`kept ${workDir}`);
    for (const v of scaleVerdicts(result)) log(`${v.question}: ${v.met ? 'MET' : 'NOT MET'} — ${v.measured}`);
    log(`report: ${join(outDir, 'scale-report.md')} (${result.meta.measuredS ?? 0} s of a ${plan.budgetS} s budget after ${result.meta.setupS ?? '?'} s of start-up; ${result.meta.wallS} s in all)`);
  }
  return exitCode;
}

/** CPU per operation onto each measured row, from its sampler segment (same name as the row). */
function attachCpu(rows, segments) {
  for (const { id, target, units, field } of rows) {
    const per = cpuMsPer(segments.find((s) => s.name === id), units);
    if (per) target[field] = per;
  }
}

async function runPhases(state) {
  const { plan, log, result, workDir } = state;
  const counts = plan.partitions.counts;
  // The topic is created with the first count (scripts/lib/kafka.mjs reads KAFKA_OPERATIONS_PARTITIONS).
  const savedPartitions = process.env.KAFKA_OPERATIONS_PARTITIONS;
  process.env.KAFKA_OPERATIONS_PARTITIONS = String(counts[0]);
  try {
    state.system = await startSystem({ workDir, accounts: plan.accounts.base, historyRows: plan.history.baseRows, log, logDir: join(workDir, 'logs') });
  } finally {
    if (savedPartitions === undefined) delete process.env.KAFKA_OPERATIONS_PARTITIONS;
    else process.env.KAFKA_OPERATIONS_PARTITIONS = savedPartitions;
  }
  const { system } = state;
  result.meta.startupS = system.startupS;
  const groups = [{ name: 'bench (load generator)', pid: process.pid }];
  for (const proc of Object.values(system.processes)) groups.push({ name: proc.name, pid: proc.pid });
  groups.push({ name: 'postgres', tree: postmasterPid(system.postgresDataDir) });
  groups.push({ name: 'kafka', cmdline: ['kafka.Kafka', system.kafkaDataDir] });
  state.sampler = startSampler({ groups, intervalMs: 1000 });
  state.auth = createActors({ endpoints: system.authEndpoints, users: system.users, hot: system.hotUser, log });
  await state.auth.prepare({ workers: Math.max(plan.accounts.concurrency, plan.partitions.concurrency, plan.history.readers, system.users.length) });
  state.ctx = { baseUrl: system.baseUrl, accounts: system.accounts, auth: state.auth };
  state.measuringSinceMs = Date.now();
  result.meta.setupS = round((state.measuringSinceMs - state.startedAtMs) / 1000, 1);
  state.baseLists = new Map(system.users.map((u) => [u, u.accountIds]));

  result.partitions = { concurrency: plan.partitions.concurrency, lagMs: plan.partitions.lagMs, levels: [] };
  await warmUp(state, 'warm-up', plan.restartWarmupMs * 2);
  await partitionsLevel(state, counts[0]);
  if (await raiseTo(state, counts[1])) await partitionsLevel(state, counts[1]);
  await accountsLevels(state);
  await historyLevel(state, { rows: system.history?.rows ?? 0, parts: system.history?.parts, loadS: system.history?.loadS });
  for (const count of counts.slice(2)) {
    if (await raiseTo(state, count)) await partitionsLevel(state, count);
  }
  await historyLarge(state);
}

/** The budget counts from the end of start-up and logins, as in the suite (start-up takes 0.5-3 min on a busy machine). */
const elapsedMs = (state) => Date.now() - (state.measuringSinceMs ?? Date.now());
/** False (and a note) when a phase of `estimateMs` would end past the budget. */
function fits(state, id, estimateMs) {
  if (elapsedMs(state) + estimateMs <= state.plan.budgetS * 1000) return true;
  state.log(`${id}: skipped, it would end past the ${state.plan.budgetS} s budget`);
  state.result.meta.notes.push(`Skipped ${id}: it would have ended past the ${state.plan.budgetS} s time budget.`);
  return false;
}

async function measure(state, id, fn) {
  state.log(id);
  await state.sampler.mark(id);
  const before = loadavg()[0];
  const res = await fn();
  const row = { id, ...res, loadAvg: { before: round(before, 2), after: round(loadavg()[0], 2) } };
  await state.sampler.mark(`after-${id}`);
  state.log(`  -> ${row.throughputPerS ?? '–'}/s ok, p50 ${row.latency?.p50Ms ?? '–'} ms, p99 ${row.latency?.p99Ms ?? '–'} ms, errors ${row.errors ?? 0}${row.errors ? ` ${JSON.stringify(row.errorKinds)}` : ''}${row.lag ? `, lag p50 ${row.lag.p50Ms} / p99 ${row.lag.p99Ms} ms` : ''}`);
  return row;
}

/** A settled system answers every transfer of a short window; a cold bank on a busy machine may open the gateway's breaker first. */
// Long enough that a request of a saturated machine (p50 ~1-2 s at load 40) ends inside it.
const SETTLE_WINDOW_MS = 3_000;
const SETTLE_DEADLINE_MS = 45_000;

/** Unmeasured transfers (JIT, pools, relay and consumer after a restart), then settles. */
async function warmUp(state, id, loadMs) {
  await state.sampler.mark(id);
  await sc.restUniform({ ...state.ctx, durations: { warmupMs: 0, loadMs } }, 32);
  await settle(state, id, (durations) => sc.restUniform({ ...state.ctx, durations }, 8));
}

/**
 * Short windows of `window` until one has answers and no error, within SETTLE_DEADLINE_MS: a restarted
 * service is back in the gateway's rotation only after its next health probe (503 until then).
 */
async function settle(state, id, window) {
  const deadlineMs = Date.now() + SETTLE_DEADLINE_MS;
  for (;;) {
    const res = await window({ warmupMs: 0, loadMs: SETTLE_WINDOW_MS, historyMs: SETTLE_WINDOW_MS });
    if (res.ok > 0 && res.errors === 0) return;
    if (Date.now() > deadlineMs) {
      state.log(`${id}: still ${res.errors} errors (${JSON.stringify(res.errorKinds)}) after ${SETTLE_DEADLINE_MS / 1000} s; measuring anyway`);
      state.result.meta.notes.push(`${id}: the system had not settled (requests still failing) after ${SETTLE_DEADLINE_MS / 1000} s.`);
      return;
    }
  }
}

/** Raises the partitions and restarts bank + analytics; false (nothing done) when that level would end past the budget. */
async function raiseTo(state, count) {
  const { system, sampler, log, plan } = state;
  if (!fits(state, `partitions-${count}`, 40_000 + plan.restartWarmupMs + plan.partitions.warmupMs + plan.partitions.lagMs)) return false;
  log(`partitions: raising the operations topic to ${count}, restarting bank-service and analytics-service`);
  await sampler.mark(`raise-${count}`);
  await raisePartitions(system.kafkaBrokers, count);
  for (const key of ['bank', 'analytics']) sampler.setPids(system.processes[key].name, [await system.restart(key, {})]);
  await warmUp(state, `warm-up-${count}`, state.plan.restartWarmupMs);
  return true;
}

async function partitionsLevel(state, count) {
  const { plan, system } = state;
  const p = plan.partitions;
  const id = `partitions-${count}`;
  if (!fits(state, id, p.warmupMs + p.lagMs + 20_000)) return;
  const names = { bank: ['bank_outbox_events_published_total'], analytics: ['analytics_events_inserted_total'] };
  const scrapeBoth = async () => ({ ...(await scrape(system.ports.bankOps, names.bank)), ...(await scrape(system.ports.analyticsOps, names.analytics)) });
  const before = await scrapeBoth();
  const t0 = Date.now();
  const row = await measure(state, id, () => sc.eventLag({ ...state.ctx, durations: { warmupMs: p.warmupMs, lagMs: p.lagMs } }, p.concurrency));
  const after = await scrapeBoth();
  const seconds = (Date.now() - t0) / 1000;
  const delta = (n) => (after[n] === undefined || before[n] === undefined ? undefined : after[n] - before[n]);
  const published = delta(names.bank[0]);
  const inserted = delta(names.analytics[0]);
  const level = {
    partitions: count,
    transfersPerS: row.throughputPerS,
    errors: row.errors,
    publishedPerS: published === undefined ? undefined : round(published / seconds, 1),
    insertedPerS: inserted === undefined ? undefined : round(inserted / seconds, 1),
    lagP50Ms: row.lag.p50Ms,
    lagP99Ms: row.lag.p99Ms,
    lagMaxMs: row.lag.maxMs,
    lagSeen: row.lag.seen,
    lagNotSeen: row.lag.notSeen,
    loadAvg: row.loadAvg,
  };
  state.result.partitions.levels.push(level);
  state.rows.push({ id, target: level, units: row.completed, field: 'cpuMsPerTransfer' }, { id, target: level, units: inserted, field: 'cpuMsPerEvent' });
}

/** Sets who sends from which accounts: `lists` per user, `ids` the recipients. */
function useAccounts(state, lists, ids) {
  for (const user of state.system.users) user.accountIds = lists.get(user);
  state.ctx = { ...state.ctx, accounts: { ...state.system.accounts, ids } };
}

async function accountsLevels(state) {
  const { plan, system, log, result } = state;
  const a = plan.accounts;
  const estimate = a.warmupMs + a.loadMs + 5_000;
  result.accounts = { concurrency: a.concurrency, loadMs: a.loadMs, addedAccounts: a.large - a.base, levels: [] };
  const baseIds = system.accounts.ids;
  const level = async (id, label, kind, stored, used) => {
    if (!fits(state, id, estimate)) return;
    const row = await measure(state, id, () => sc.restUniform({ ...state.ctx, durations: { warmupMs: a.warmupMs, loadMs: a.loadMs } }, a.concurrency));
    const entry = { id, label, kind, accountsStored: stored, accountsUsed: used, throughputPerS: row.throughputPerS, p50Ms: row.latency?.p50Ms, p99Ms: row.latency?.p99Ms, errors: row.errors, loadAvg: row.loadAvg };
    result.accounts.levels.push(entry);
    state.rows.push({ id, target: entry, units: row.completed, field: 'cpuMsPerTransfer' });
  };
  await level('accounts-base', `${shortLabel(a.base)}`, 'base', baseIds.length, baseIds.length);
  // The bank CLI seeds ~2.5 k accounts/s at load 20 and far more on a quiet machine: 5 k/s assumed.
  if (!fits(state, 'accounts-seed', (a.large - a.base) / 5 + 3 * estimate)) return;
  log(`accounts: seeding ${(a.large - a.base).toLocaleString('en-US')} more with the bank CLI`);
  await state.sampler.mark('accounts-seed');
  const { byOwner, seedS } = await seedMore(system.databaseUrl, a.large - a.base, system.users, state.workDir);
  result.accounts.seedS = seedS;
  await analyzeAccounts(system.databaseUrl);
  const largeLists = new Map(system.users.map((u) => [u, [...state.baseLists.get(u), ...(byOwner.get(u.userId) ?? [])]]));
  const largeIds = [...baseIds, ...[...byOwner.values()].flat()];
  const stored = largeIds.length;
  log(`accounts: ${stored.toLocaleString('en-US')} stored after ${seedS} s of seeding`);
  useAccounts(state, largeLists, largeIds);
  await warmUp(state, 'accounts-warm-up', plan.restartWarmupMs);
  await level('accounts-large-1', `${shortLabel(stored)} #1`, 'large', stored, stored);
  useAccounts(state, state.baseLists, baseIds);
  await level('accounts-subset', `${shortLabel(baseIds.length)} of ${shortLabel(stored)}`, 'subset', stored, baseIds.length);
  useAccounts(state, largeLists, largeIds);
  await level('accounts-large-2', `${shortLabel(stored)} #2`, 'large', stored, stored);
  useAccounts(state, state.baseLists, baseIds);
}

const shortLabel = (n) => (n >= 1e6 ? `${+(n / 1e6).toFixed(1)} M` : `${+(n / 1e3).toFixed(1)} k`);

async function historyLevel(state, { rows, parts, loadS }) {
  const h = state.plan.history;
  const id = `history-${rows}`;
  if (!fits(state, id, h.warmupMs + h.loadMs + 5_000)) return;
  const own = (actor) => actor.accountIds[Math.floor(Math.random() * actor.accountIds.length)];
  const firstPages = (durations, readers) => sc.historyReads({ ...state.ctx, durations }, readers, state.auth.worker, (actor) => `/accounts/${own(actor)}/operations?limit=20`);
  await state.sampler.mark(`settle-${id}`);
  await settle(state, `settle-${id}`, (durations) => firstPages(durations, 2));
  const row = await measure(state, id, () => firstPages({ warmupMs: h.warmupMs, historyMs: h.loadMs }, h.readers));
  state.result.history ??= { readers: h.readers, levels: [] };
  const level = { rowsStored: rows, parts, loadS, readsPerS: row.throughputPerS, p50Ms: row.latency?.p50Ms, p99Ms: row.latency?.p99Ms, maxMs: row.latency?.maxMs, errors: row.errors, loadAvg: row.loadAvg };
  state.result.history.levels.push(level);
  state.rows.push({ id, target: level, units: row.completed, field: 'cpuMsPerRead' });
}

/** The large history level: the biggest planned size that loads within the budget and fits the disk, into a fresh chDB folder. */
async function historyLarge(state) {
  const { plan, system, log, result } = state;
  const h = plan.history;
  const base = system.history;
  if (!base?.rows || !base.loadS) return;
  const chdbPath = join(state.workDir, 'chdb');
  const freeBytes = (() => {
    const s = statfsSync(state.workDir);
    return s.bavail * s.bsize;
  })();
  const reserveS = plan.historyReserveS + (h.warmupMs + h.loadMs) / 1000;
  const choice = historyRowsThatFit({
    candidates: h.candidates,
    baseRows: base.rows,
    // A load above ~20 M rows also merges its blocks (lib/history-load.mjs): taken as half again the base rate's time.
    rowsPerS: base.rows / base.loadS / LARGE_LOAD_SLOWDOWN,
    timeLeftS: plan.budgetS - elapsedMs(state) / 1000 - reserveS,
    bytesPerRow: dirBytes(chdbPath) / base.rows,
    freeBytes,
  });
  result.history ??= { readers: h.readers, levels: [] };
  result.history.note = `Large level: ${choice.rows ? choice.rows.toLocaleString('en-US') : 'not measured'} operations (planned ${Math.max(...h.candidates).toLocaleString('en-US')}; ${choice.reason}; base load ${Math.round(base.rows / base.loadS).toLocaleString('en-US')} rows/s).`;
  log(`history: ${result.history.note}`);
  if (!choice.rows) return;
  await state.sampler.mark('history-reload');
  await system.stopInstance('analytics');
  rmSync(chdbPath, { recursive: true, force: true });
  const loaded = await loadHistory({ chdbPath, rows: choice.rows, accountIds: system.accounts.ids, heavyAccountId: system.accounts.heavyAccount, workDir: state.workDir, log });
  log(`history: ${loaded.rows.toLocaleString('en-US')} rows in ${loaded.parts} parts, loaded in ${loaded.loadS} s`);
  state.sampler.setPids(system.processes.analytics.name, [await system.startInstance('analytics')]);
  await historyLevel(state, { rows: loaded.rows, parts: loaded.parts, loadS: loaded.loadS });
}
