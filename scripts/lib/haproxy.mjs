// A real HAProxy in front of the replicas of a local run (issue 13): the
// gateways (mode http) and the identity-services (mode tcp, TLS passed
// through), so clients keep the one-replica URLs. Found on PATH (or
// HAPROXY_BIN); when missing, on Debian/Ubuntu as root, installed from the
// distribution's packages with apt-get (Debian 12: 2.6, built with the
// Prometheus exporter), the way valkey.mjs installs its server.
//
// What the generated configuration guarantees (haproxyConfig):
// - health checks every 500 ms, out after 2 failures, back after 2 successes:
//   a killed or draining gateway (its /readyz answers 503 at once on SIGTERM)
//   gets no new requests after ~1 s;
// - a request whose connection failed, or whose answer was empty, garbled,
//   timed out or a 503, is sent again to ANOTHER server (redispatch on every
//   retry), at most twice — but only when resending is safe: an idempotent
//   method (GET, HEAD, OPTIONS, PUT, DELETE) or a request carrying an
//   Idempotency-Key (the bank answers a replay with the first answer). Any
//   other request is retried only when its connection never opened (nothing
//   was sent);
// - every request body is buffered (what a resend needs), bounded by bufsize.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnManaged } from './process.mjs';

const APT_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
/** Bounds of the generated configuration (documented in the README's "Replicas" section). */
export const HAPROXY_LIMITS = Object.freeze({
  connectionsMax: 4_096,
  checkIntervalMs: 500,
  checkFallCount: 2,
  checkRiseCount: 2,
  checkTimeoutMs: 1_000,
  retriesMax: 2,
  connectTimeoutMs: 2_000,
  // Above the gateway's own deadlines: a slow answer is the gateway's to give (504 problem+json).
  serverTimeoutMs: 30_000,
  clientTimeoutMs: 30_000,
  httpRequestTimeoutMs: 10_000,
  queueTimeoutMs: 5_000,
});

/** Absolute path of an haproxy binary, or undefined. */
function onPath() {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const candidates = [process.env.HAPROXY_BIN, ...dirs.map((dir) => join(dir, 'haproxy')), '/usr/sbin/haproxy', '/usr/local/sbin/haproxy'];
  return candidates.filter(Boolean).find((path) => existsSync(path));
}

/**
 * Finds haproxy; on Debian/Ubuntu as root installs it with apt-get when missing
 * (the package's policy-rc.d keeps a system-wide daemon from starting in containers).
 * @param {{ install?: boolean, log?: (line: string) => void }} [options]
 */
export function findHaproxy({ install = true, log = () => {} } = {}) {
  const found = onPath();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!install || !isRoot || !existsSync('/usr/bin/apt-get')) return undefined;
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const known = spawnSync('apt-cache', ['show', '--no-all-versions', 'haproxy'], { stdio: 'ignore', timeout: 60_000 }).status === 0;
  if (!known) spawnSync('apt-get', ['update'], { stdio: 'ignore', timeout: APT_TIMEOUT_MS, env: aptEnv });
  log('haproxy not found: installing it with apt-get');
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'haproxy'], { stdio: 'ignore', timeout: APT_TIMEOUT_MS, env: aptEnv });
  return onPath();
}

const ms = (value) => `${value}ms`;
/** Server names are instance keys (`gateway.2`): letters, digits, dot, dash, underscore only. */
const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

function checkedPort(port, what) {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new Error(`haproxy: ${what} must be a TCP port, got ${port}`);
  return port;
}

function serverLines(backends) {
  if (!backends.length) throw new Error('haproxy: a frontend needs at least one backend');
  return backends.map((b) => {
    if (!SAFE_NAME.test(b.key)) throw new Error(`haproxy: server name "${b.key}" has characters outside [A-Za-z0-9._-]`);
    const port = checkedPort(b.port, `port of ${b.key}`);
    const checkPort = checkedPort(b.checkPort ?? b.port, `check port of ${b.key}`);
    return `  server ${b.key} 127.0.0.1:${port} check${checkPort === port ? '' : ` port ${checkPort}`}`;
  });
}

function checkPathOf(backends) {
  const paths = new Set(backends.map((b) => b.checkPath ?? '/readyz'));
  if (paths.size !== 1) throw new Error(`haproxy: one backend, one check path (got ${[...paths].join(', ')})`);
  const [path] = paths;
  if (!/^\/[A-Za-z0-9/_.-]*$/.test(path)) throw new Error(`haproxy: check path "${path}" is not a plain path`);
  return path;
}

function commonBackendLines(backends) {
  const L = HAPROXY_LIMITS;
  if (!backends.length) throw new Error('haproxy: a frontend needs at least one backend');
  return [
    '  balance roundrobin',
    `  option httpchk GET ${checkPathOf(backends)}`,
    '  http-check expect status 200',
    `  default-server inter ${ms(L.checkIntervalMs)} fall ${L.checkFallCount} rise ${L.checkRiseCount}`,
    `  retries ${L.retriesMax}`,
    // Every retry on another server (a dead one gets no second try).
    '  option redispatch 1',
  ];
}

function gatewaySections({ port, backends }) {
  return [
    'frontend gateway',
    '  mode http',
    `  bind 127.0.0.1:${checkedPort(port, 'gateway frontend port')}`,
    '  option httplog',
    '  option forwardfor',
    '  default_backend gateway',
    '',
    'backend gateway',
    '  mode http',
    ...commonBackendLines(backends),
    // A resend needs the request body.
    '  option http-buffer-request',
    '  retry-on conn-failure empty-response junk-response response-timeout 503',
    // Resending a non-idempotent request is safe only with its Idempotency-Key (the first answer is replayed).
    '  acl idempotent_method method GET HEAD OPTIONS PUT DELETE',
    '  acl has_idempotency_key req.hdr(idempotency-key) -m found',
    '  http-request disable-l7-retry if !idempotent_method !has_idempotency_key',
    ...serverLines(backends),
    '',
  ];
}

function identitySections({ port, backends }) {
  return [
    'frontend identity',
    '  mode tcp',
    `  bind 127.0.0.1:${checkedPort(port, 'identity frontend port')}`,
    '  option tcplog',
    '  default_backend identity',
    '',
    // TLS passes through: each identity-service presents its own certificate; retries only on connection failure.
    'backend identity',
    '  mode tcp',
    ...commonBackendLines(backends),
    ...serverLines(backends),
    '',
  ];
}

/**
 * The configuration text for a load-balancer description (describeSystem's
 * `loadBalancer`). Pure: unit-tested in scripts/test/haproxy.test.ts.
 * @param {import('./system.d.mts').LoadBalancerSpec} spec
 */
export function haproxyConfig(spec) {
  const L = HAPROXY_LIMITS;
  const { gateway, identity } = spec.frontends;
  if (!gateway && !identity) throw new Error('haproxy: nothing to balance (no gateway or identity frontend)');
  const lines = [
    '# Generated by scripts/lib/haproxy.mjs for a local replicated run; do not edit.',
    'global',
    // Logs to the launcher's pipe/log file (run with -db, in the foreground).
    '  log stdout format raw local0 info',
    `  maxconn ${L.connectionsMax}`,
    // One thread: 2 cores are shared with every service of the run.
    '  nbthread 1',
    '',
    'defaults',
    '  log global',
    // Only errors, retries and redispatches are logged (and server state changes): a bench is not an access log.
    '  option dontlog-normal',
    `  timeout connect ${ms(L.connectTimeoutMs)}`,
    `  timeout client ${ms(L.clientTimeoutMs)}`,
    `  timeout server ${ms(L.serverTimeoutMs)}`,
    `  timeout check ${ms(L.checkTimeoutMs)}`,
    `  timeout http-request ${ms(L.httpRequestTimeoutMs)}`,
    `  timeout queue ${ms(L.queueTimeoutMs)}`,
    '',
    'frontend stats',
    '  mode http',
    // Scrapes and health probes are not events.
    '  no log',
    `  bind 127.0.0.1:${checkedPort(spec.statsPort, 'stats port')}`,
    '  monitor-uri /healthz',
    '  http-request use-service prometheus-exporter if { path /metrics }',
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 5s',
    '',
    ...(gateway ? gatewaySections(gateway) : []),
    ...(identity ? identitySections(identity) : []),
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * How to launch haproxy for a spec: writes the configuration into `dir` and
 * returns the command (foreground, -db) and its path.
 */
export function haproxyLaunch(spec, { dir, binary, log = () => {} }) {
  const command = binary ?? findHaproxy({ log });
  if (!command) throw new Error('no haproxy: install it (apt-get install haproxy) or set HAPROXY_BIN');
  mkdirSync(dir, { recursive: true });
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, haproxyConfig(spec));
  const check = spawnSync(command, ['-c', '-q', '-f', configPath], { encoding: 'utf8', timeout: 30_000 });
  if (check.status !== 0) throw new Error(`haproxy rejected ${configPath}: ${(check.stderr || check.stdout).trim()}`);
  return { command, args: ['-db', '-f', configPath], configPath };
}

/**
 * One state per server as HAProxy sees it (stats CSV): `{ 'gateway/gateway.2': 'UP', ... }`.
 * @param {string} statsUrl
 */
export async function serverStates(statsUrl, { timeoutMs = 2_000 } = {}) {
  const res = await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(timeoutMs) });
  if (res.status !== 200) throw new Error(`haproxy stats answered ${res.status}`);
  const [header, ...rows] = (await res.text()).split('\n').filter(Boolean);
  const columns = header.replace(/^# /, '').split(',');
  const at = (name) => columns.indexOf(name);
  const states = {};
  for (const row of rows) {
    const cells = row.split(',');
    const server = cells[at('svname')];
    if (server === 'FRONTEND' || server === 'BACKEND') continue;
    states[`${cells[at('pxname')]}/${server}`] = cells[at('status')];
  }
  return states;
}

/** Waits until HAProxy sees every named server (`backend/server`) UP; bounded. */
export async function waitServersUp(statsUrl, servers, { timeoutMs = 15_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = {};
  while (Date.now() < deadline) {
    try {
      last = await serverStates(statsUrl);
      if (servers.every((name) => last[name]?.startsWith('UP'))) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  const seen = servers.map((name) => `${name}: ${last[name] ?? 'unknown'}`).join(', ');
  throw new Error(`haproxy did not see every server up within ${timeoutMs} ms (${seen})`);
}

/**
 * Starts haproxy on its own (a launcher without createSystem): resolves once
 * its /healthz answers.
 * @param {import('./system.d.mts').LoadBalancerSpec} spec
 * @param {{ dir: string, log?: (line: string) => void }} options
 */
export async function startHaproxy(spec, { dir, log = () => {} }) {
  const { command, args, configPath } = haproxyLaunch(spec, { dir, log });
  const proc = spawnManaged({ name: 'haproxy', command, args, cwd: dir, onLine: log });
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (!proc.running) throw new Error(`haproxy exited at start:\n${proc.logs.slice(-20).join('\n')}`);
    try {
      const res = await fetch(spec.readyUrl, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop({ graceMs: STOP_GRACE_MS });
      throw new Error(`haproxy not ready at ${spec.readyUrl} within ${START_TIMEOUT_MS} ms`);
    }
    await sleep(100);
  }
  return {
    pid: proc.pid,
    configPath,
    statsUrl: spec.statsUrl,
    metricsUrl: spec.metricsUrl,
    exited: proc.exited,
    stop: async () => {
      await proc.stop({ graceMs: STOP_GRACE_MS });
    },
    kill: async () => {
      await proc.stop({ signal: 'SIGKILL', graceMs: 0 });
    },
  };
}
