#!/usr/bin/env node
// `npm start`: the whole wallet on this machine, supervised.
//   npm start [-- --data-dir <dir>] [--port-base <n>] [--no-build] [--traces] [--replicas <n>]
// Starts (or adopts from DATABASE_URL / KAFKA_BROKERS) PostgreSQL and Kafka,
// builds, then starts the services described in scripts/lib/system.mjs in
// dependency order, each gated on its readiness. A crashed service is
// restarted with backoff; one that keeps crashing stops everything. Ctrl-C
// stops services first (they drain), then Kafka and PostgreSQL, within 10 s.
// Every child runs in its own process group (the terminal's Ctrl-C reaches only
// this script) and dies with this script if it is killed (process.mjs).
// --traces: an OTLP/HTTP receiver in this process (loopback, any free port)
// takes every service's spans and appends them to <data-dir>/traces/ (rotated,
// bounded); `npm run trace -- <request id or trace id>` prints one as a tree.
// --replicas N (or WALLET_REPLICAS, 1..8): N instances of each of our services
// (each supervised on its own), HAProxy in front of the gateways and the
// identity-services on the usual URLs, and one shared ClickHouse engine for the
// analytics replicas (scripts/lib/clickhouse-server.mjs; or CLICKHOUSE_URL).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureInfra } from './lib/infra.mjs';
import { acquireLock, busyPorts } from './lib/launcher.mjs';
import { npxBin, root } from './lib/paths.mjs';
import { RESTART_POLICY } from './lib/restart-policy.mjs';
import { startOtlpReceiver } from './lib/otlp-receiver.mjs';
import { startClickHouseServer } from './lib/clickhouse-server.mjs';
import { createSystem, describeSystem, parseReplicas, PORT_LABELS, portsFor, replicaPortsFor } from './lib/system.mjs';

/** Ctrl-C to exit: services drain within SERVICES_STOP_MS, then infrastructure, all within STOP_TOTAL_MS. */
const STOP_TOTAL_MS = 10_000;
const SERVICES_STOP_MS = 5_000;

const colors = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[90m', '\x1b[31m'];
const reset = '\x1b[0m';
const useColor = process.stdout.isTTY;
const labels = new Map();
function say(source, line) {
  if (!labels.has(source)) {
    const name = source.padEnd(20);
    labels.set(source, useColor ? `${colors[labels.size % colors.length]}${name}${reset}` : name);
  }
  process.stdout.write(`${labels.get(source)}| ${line}\n`);
}

/** A problem the user can fix: reported in one line, exit code 1. */
function fail(message) {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

function options() {
  try {
    const { values } = parseArgs({
      options: {
        'data-dir': { type: 'string' },
        'port-base': { type: 'string' },
        'no-build': { type: 'boolean' },
        traces: { type: 'boolean' },
        replicas: { type: 'string' },
      },
      strict: true,
    });
    const base = values['port-base'] ?? process.env.WALLET_PORT_BASE;
    const ports = portsFor({ base: base === undefined ? undefined : Number(base) });
    const replicas = values.replicas === undefined ? parseReplicas(process.env.WALLET_REPLICAS, 'WALLET_REPLICAS') : parseReplicas(values.replicas);
    return {
      dataDir: resolve(values['data-dir'] ?? process.env.WALLET_DATA_DIR ?? join(root, '.data')),
      ports,
      replicas,
      replicaPorts: replicaPortsFor(ports, replicas),
      build: !values['no-build'],
      traces: Boolean(values.traces),
    };
  } catch (error) {
    return fail(`${error.message} (usage: npm start -- [--data-dir <dir>] [--port-base <n>] [--no-build] [--traces] [--replicas <1-8>])`);
  }
}

const opts = options();
mkdirSync(opts.dataDir, { recursive: true });
const lock = acquireLock(join(opts.dataDir, 'start.lock'), { ports: opts.ports, note: (line) => say('start', line) });
if (!lock.ok) fail(lock.message);

let infra;
let system;
let receiver;
let clickhouse;
let stopping = false;

async function shutdown(code, why) {
  if (stopping) return;
  stopping = true;
  const startedMs = Date.now();
  say('start', `${why}: stopping services, then Kafka and PostgreSQL`);
  await system?.stop({ timeoutMs: SERVICES_STOP_MS }).catch((error) => say('start', `stopping services: ${error.message}`));
  // After the services: their last spans are flushed during their shutdown.
  await receiver?.close();
  const leftMs = STOP_TOTAL_MS - (Date.now() - startedMs) - 500;
  await Promise.all([
    clickhouse?.stop().catch((error) => say('start', `stopping the ClickHouse server: ${error.message}`)),
    infra?.stop(Math.max(1_000, leftMs)),
  ]);
  lock.release();
  say('start', `stopped in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  process.exit(code);
}

// A second Ctrl-C while stopping does not interrupt the ordered stop (it is bounded anyway).
process.on('SIGINT', () => void shutdown(0, 'Ctrl-C'));
process.on('SIGTERM', () => void shutdown(0, 'SIGTERM'));
process.on('SIGHUP', () => void shutdown(0, 'terminal closed'));

/** `bank-service.2` for a replica, `haproxy` for the load balancer. */
const labelOf = (key) => (key === 'loadBalancer' ? 'haproxy' : (system?.services[key]?.instanceName ?? key));

function onEvent(event) {
  const name = labelOf(event.key);
  if (event.type === 'ready') say(name, `ready (pid ${event.pid})${event.restarted ? ' again after a restart' : ''}`);
  if (event.type === 'crashed') {
    say(name, `exited unexpectedly (${event.exit}); restart in ${(event.delayMs / 1000).toFixed(1)} s ` +
      `(crash ${event.crashesInWindow} within ${RESTART_POLICY.windowMs / 1000} s; gives up at ${RESTART_POLICY.crashesMax})`);
  }
  if (event.type === 'restarting') say(name, `restarting (pid ${event.pid})`);
  if (event.type === 'not-ready') say(name, `not ready after the restart: ${event.error.split('\n')[0]}`);
  if (event.type === 'give-up') {
    say(name, `crashed ${event.crashesInWindow} times within ${event.windowMs / 1000} s; giving up`);
    void shutdown(1, `${name} keeps crashing`);
  }
}

/** Every port this run listens on, named for messages (`bankGrpc`, `bankGrpc of replica 2`). */
function portsToCheck() {
  const named = { ...opts.ports };
  if (opts.replicas === 1) delete named.lbStats;
  opts.replicaPorts.forEach((instance, index) => {
    for (const [name, port] of Object.entries(instance)) {
      if (port !== opts.ports[name]) named[`${name}@${index + 1}`] = port;
    }
  });
  return named;
}
const labelOfPort = (name) => {
  const [portName, replica] = name.split('@');
  return `${PORT_LABELS[portName]}${replica ? `, replica ${replica}` : ''}`;
};

async function main() {
  const ports = portsToCheck();
  const busy = await busyPorts(ports, {
    skip: [
      ...(process.env.DATABASE_URL ? ['postgres'] : []),
      ...(process.env.KAFKA_BROKERS ? ['kafka', 'kafkaController'] : []),
      // The gateway binds its ops port only in production mode (9100 is also node_exporter's default).
      ...(process.env.NODE_ENV === 'production' ? [] : Object.keys(ports).filter((name) => name.startsWith('gatewayOps'))),
    ],
  });
  if (busy.length) {
    const shown = busy.slice(0, 3).map((name) => `${ports[name]} (${labelOfPort(name)})`).join(', ');
    const list = busy.length > 3 ? `${shown} and ${busy.length - 3} more` : shown;
    lock.release();
    fail(`port${busy.length > 1 ? 's' : ''} ${list} already in use by another process; stop it (see: ss -ltnp 'sport = :${ports[busy[0]]}') or run on other ports with --port-base <n>`);
  }
  if (opts.build) {
    say('start', 'building (tsc -b)...');
    const build = spawnSync(npxBin('tsc'), ['-b'], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) throw new Error(`build failed (tsc -b exit ${build.status ?? build.signal}); fix the errors above`);
    // The web app the gateway serves at /app/ and /console/ (apps/web/dist).
    say('start', 'building the web app (vite)...');
    const web = spawnSync(npxBin('vite'), ['build', '--logLevel', 'warn'], { cwd: join(root, 'apps', 'web'), stdio: 'inherit' });
    if (web.status !== 0) throw new Error(`web app build failed (exit ${web.status ?? web.signal}); fix the errors above`);
  }
  infra = await ensureInfra({
    dataDir: opts.dataDir,
    purpose: 'start',
    pgPort: opts.ports.postgres,
    kafkaPort: opts.ports.kafka,
    kafkaControllerPort: opts.ports.kafkaController,
    log: (source, line) => say(source, line),
  });
  watchInfra();
  if (stopping) return;
  const otel = opts.traces ? await startTraceReceiver() : undefined;
  const clickhouseUrl = process.env.CLICKHOUSE_URL ?? (opts.replicas > 1 ? await startSharedClickHouse() : undefined);
  if (stopping) return;
  const description = await describeSystem({
    infraEnv: { DATABASE_URL: infra.env.DATABASE_URL, KAFKA_BROKERS: infra.env.KAFKA_BROKERS, CLICKHOUSE_URL: clickhouseUrl },
    ports: opts.ports,
    replicas: opts.replicas,
    replicaPorts: opts.replicaPorts,
    chdbPath: join(opts.dataDir, 'analytics', 'chdb'),
    // The development users of the README (alice, bob, support, admin): `npm start` only.
    devUsers: true,
    // .data/pki: the development CA and every service's certificate (mutual TLS), created on first use.
    pki: infra.pki,
    otel,
  });
  system = createSystem(description, { onLine: (key, line) => say(labelOf(key), line), restartPolicy: RESTART_POLICY, onEvent });
  await system.startAll();
  if (stopping) return;
  const url = description.baseUrl.replace('127.0.0.1', 'localhost');
  say('start', `E-wallet is up: REST on ${url} (Swagger UI: ${url}/docs, "Authorize" with alice / alice-wallet-demo-pw)`);
  say('start', `Web wallet: ${url}/app/ (sign in as alice / alice-wallet-demo-pw, or create an account); operator console: ${url}/console/ (support / support-wallet-demo-pw)`);
  if (description.loadBalancer) {
    const gateways = description.loadBalancer.frontends.gateway?.backends.map((b) => b.port).join(', ');
    say('start', `${opts.replicas} replicas of each service; HAProxy load balancer on ${url} (gateways on ${gateways}), stats ${description.loadBalancer.statsUrl.replace('127.0.0.1', 'localhost')}`);
  }
  for (const line of tryLines(url)) say('start', line);
  if (receiver) say('start', `traces: spans in ${join(opts.dataDir, 'traces')}; print one: npm run trace -- <X-Request-Id or X-Trace-Id of a response>`);
  say('start', 'press Ctrl-C to stop');
}

/** --replicas > 1: one ClickHouse engine the analytics replicas share (chDB behind the HTTP interface). */
async function startSharedClickHouse() {
  clickhouse = await startClickHouseServer({ dataDir: join(opts.dataDir, 'clickhouse-server'), log: (line) => say('clickhouse', line) });
  say('start', `ClickHouse server (shared by the analytics replicas) on ${clickhouse.url}, data in ${join(opts.dataDir, 'clickhouse-server')}`);
  return clickhouse.url;
}

/** --traces: the in-process OTLP receiver writing JSON lines under <data-dir>/traces. */
async function startTraceReceiver() {
  receiver = await startOtlpReceiver({ dir: join(opts.dataDir, 'traces') });
  say('start', `OTLP trace receiver on ${receiver.url} (every service exports its spans there)`);
  // One second between exports (default 5 s): a trace is readable right after the request.
  return { endpoint: receiver.url, protocol: 'http/protobuf', env: { OTEL_BSP_SCHEDULE_DELAY: '1000' } };
}

/** How to log in as the development user alice and read her balance (README "Log in"). */
function tryLines(url) {
  return [
    'log in (development user alice; README "Log in" lists the others):',
    `  TOKEN=$(curl -s ${url}/auth/token -d grant_type=password -d username=alice -d password=alice-wallet-demo-pw | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`,
    `  curl -H "Authorization: Bearer $TOKEN" ${url}/accounts/123e4567-e89b-12d3-a456-426614174000/balance`,
  ];
}

/** PostgreSQL or Kafka dying under the services is not something a service restart fixes. */
function watchInfra() {
  for (const [label, part] of [['PostgreSQL', infra.postgres], ['Kafka', infra.kafka]]) {
    if (part.pid) say('start', `${label} pid ${part.pid}`);
    void part.exited?.then((result) => {
      if (!stopping) void shutdown(1, `${label} exited unexpectedly (${result})`);
    });
  }
}

main().catch((error) => {
  const message = String(error?.message ?? error ?? 'unknown error');
  process.stderr.write(`npm start: ${message}\n`);
  void shutdown(1, 'start failed');
});
