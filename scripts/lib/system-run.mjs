// Runs a described system (scripts/lib/system.mjs): one handle per service
// (pid, ports, urls, logs, start/stop/kill/restart), start in dependency
// order gated on readiness, bounded ordered stop, and optional supervision
// (restart a crashed service with backoff; give up when it keeps crashing).
// With replicas (describeSystem({ replicas })) one handle per instance, keyed
// by instance key (`bank`, `bank.2`), and HAProxy in front as one more
// supervised handle (`system.loadBalancer`): started first, stopped last.
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { haproxyLaunch, waitServersUp } from './haproxy.mjs';
import { root } from './paths.mjs';
import { spawnManaged } from './process.mjs';
import { decideRestart, recentCrashes } from './restart-policy.mjs';

const READY_TIMEOUT_MS = 120_000;
/** Whole-system stop bound: services get this long in total, layer by layer. */
const STOP_TIMEOUT_MS = 6_000;

/** Polls url until it answers 200; fails early when isDead() says the process is gone. */
export async function waitReady(url, { timeoutMs = READY_TIMEOUT_MS, intervalMs = 200, isDead = () => false } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isDead()) throw new Error(`exited before becoming ready at ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(Math.min(2_000, timeoutMs)) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(intervalMs);
  }
  throw new Error(`not ready at ${url} after ${timeoutMs} ms`);
}

/** The last `count` lines of a log file (reads at most its last 64 KiB); [] when unreadable. */
export function tailOfFile(path, count) {
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, 64 * 1024);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8').split('\n').filter(Boolean).slice(-count);
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
}

/** Stop layers: dependants before what they depend on; one layer stops in parallel. */
function stopLayers(specs) {
  const depth = {};
  const depthOf = (spec) => (depth[spec.key] ??= 1 + Math.max(-1, ...spec.dependsOn.map((d) => depthOf(specs.find((s) => s.key === d)))));
  for (const spec of specs) depthOf(spec);
  const layers = [];
  for (const spec of specs) (layers[depth[spec.key]] ??= []).push(spec.key);
  return layers.filter(Boolean).reverse();
}

/**
 * @param {Awaited<ReturnType<typeof import('./system.mjs').describeSystem>>} description
 * @param {{
 *   logDir?: string,                                   // output of each service to <logDir>/<name>.log
 *   onLine?: (key: string, line: string) => void,      // or piped, line by line
 *   nodeArgs?: (key: string) => string[],
 *   readyTimeoutMs?: number,
 *   restartPolicy?: import('./restart-policy.mjs').RESTART_POLICY | null,  // supervise when set
 *   onEvent?: (event: { type: string, key: string, name: string, [k: string]: unknown }) => void,
 * }} [options]
 */
export function createSystem(description, options = {}) {
  const { readyTimeoutMs = READY_TIMEOUT_MS, restartPolicy = null, onEvent = () => {} } = options;
  let stopping = false;
  const services = {};
  for (const spec of description.services) services[spec.key] = createHandle(spec);
  const lbSpec = description.loadBalancer;
  let lbDir;
  const loadBalancer = lbSpec && createHandle({
    ...lbSpec,
    entry: undefined,
    dependsOn: [],
    ports: { stats: lbSpec.statsPort },
    env: {},
    // The configuration is written (and checked by haproxy -c) at each spawn.
    launch: () => haproxyLaunch(lbSpec, { dir: (lbDir ??= mkdtempSync(join(tmpdir(), 'wallet-haproxy-'))) }),
  });
  /** Backend server names (`gateway/gateway.2`) HAProxy must see up before dependants start. */
  const lbServersOf = (keys) =>
    Object.entries(lbSpec?.frontends ?? {}).flatMap(([frontend, { backends }]) =>
      backends.filter((b) => keys.includes(b.key)).map((b) => `${frontend}/${b.key}`));
  const handleOf = (key) => {
    const handle = key === 'loadBalancer' ? loadBalancer : services[key];
    if (!handle) throw new Error(`unknown service "${key}"`);
    return handle;
  };

  function createHandle(spec) {
    const handle = {
      ...spec,
      env: { ...spec.env },
      proc: undefined,
      /** True while the service should run: an exit then is a crash. */
      wanted: false,
      crashTimesMs: [],
      restartTimer: undefined,
      get pid() {
        return handle.proc?.running ? handle.proc.pid : undefined;
      },
      get child() {
        return handle.proc?.child;
      },
      get logs() {
        return handle.proc?.logs ?? [];
      },
      get logPath() {
        return options.logDir ? join(options.logDir, `${spec.instanceName ?? spec.name}.log`) : undefined;
      },
      get startedAtMs() {
        return handle.proc?.startedAtMs;
      },
      /** Spawns the process (does not wait for readiness). */
      spawn() {
        if (handle.proc?.running) throw new Error(`${spec.name} is already running (pid ${handle.proc.pid})`);
        const launch = spec.launch?.() ?? { command: process.execPath, args: [...(options.nodeArgs?.(spec.key) ?? []), spec.entry] };
        const proc = spawnManaged({
          name: spec.instanceName ?? spec.name,
          command: launch.command,
          args: launch.args,
          env: { ...process.env, ...handle.env },
          cwd: root,
          logPath: handle.logPath,
          onLine: options.onLine && ((line) => options.onLine(spec.key, line)),
        });
        handle.proc = proc;
        handle.wanted = true;
        void proc.exited.then((result) => onExit(handle, proc, result));
        return proc;
      },
      async waitReady() {
        const proc = handle.proc;
        try {
          await waitReady(spec.readyUrl, { timeoutMs: readyTimeoutMs, isDead: () => !proc?.running });
        } catch (error) {
          // Output piped (kept in memory) or appended to a log file.
          const lines = handle.logPath ? tailOfFile(handle.logPath, 30) : (proc?.logs.slice(-30) ?? []);
          const tail = lines.join('\n');
          throw new Error(`${spec.name} (pid ${proc?.pid}) did not become ready: ${error.message}${tail ? `\n${tail}` : ''}`);
        }
      },
      /** Starts and waits until ready. */
      async start() {
        handle.spawn();
        await handle.waitReady();
        return handle.pid;
      },
      /** Deliberate stop (no restart): SIGTERM, SIGKILL after graceMs. */
      async stop({ graceMs = STOP_TIMEOUT_MS } = {}) {
        handle.wanted = false;
        clearTimeout(handle.restartTimer);
        return handle.proc?.stop({ graceMs });
      },
      /** A crash (SIGKILL): supervised systems restart it like any other crash. */
      async kill() {
        return handle.proc?.kill();
      },
      /** Stop, merge extraEnv (a configuration variant), start, wait ready; returns the new pid. */
      async restart(extraEnv = {}) {
        await handle.stop();
        Object.assign(handle.env, extraEnv);
        return handle.start();
      },
    };
    return handle;
  }

  function onExit(handle, proc, result) {
    if (handle.proc !== proc) return; // an older incarnation
    const event = { key: handle.key, name: handle.name, pid: proc.pid, exit: result };
    if (!handle.wanted || stopping) {
      onEvent({ type: 'stopped', ...event });
      return;
    }
    if (!restartPolicy) {
      onEvent({ type: 'exited', ...event });
      return;
    }
    const nowMs = Date.now();
    handle.crashTimesMs = recentCrashes([...handle.crashTimesMs, nowMs], nowMs, restartPolicy);
    const decision = decideRestart(handle.crashTimesMs, nowMs, restartPolicy);
    if (decision.action === 'give-up') {
      handle.wanted = false;
      onEvent({ type: 'give-up', ...event, crashesInWindow: decision.crashesInWindow, windowMs: restartPolicy.windowMs });
      return;
    }
    onEvent({ type: 'crashed', ...event, delayMs: decision.delayMs, crashesInWindow: decision.crashesInWindow });
    handle.restartTimer = setTimeout(() => {
      if (!handle.wanted || stopping) return;
      handle.spawn();
      onEvent({ type: 'restarting', key: handle.key, name: handle.name, pid: handle.proc.pid });
      handle.waitReady().then(
        () => onEvent({ type: 'ready', key: handle.key, name: handle.name, pid: handle.pid, restarted: true }),
        (error) => onEvent({ type: 'not-ready', key: handle.key, name: handle.name, error: error.message }),
      );
    }, decision.delayMs);
  }

  const system = {
    description,
    services,
    loadBalancer,
    ports: description.ports,
    baseUrl: description.baseUrl,
    /** Every instance of a service, in replica order. */
    instancesOf: (serviceKey) => Object.values(services).filter((h) => (h.serviceKey ?? h.key) === serviceKey),
    /**
     * Starts one instance (or 'loadBalancer') and waits until it is ready and,
     * behind HAProxy, until HAProxy sends it traffic; returns its pid.
     */
    async start(key) {
      const handle = handleOf(key);
      const pid = await handle.start();
      const servers = lbServersOf([key]);
      if (servers.length && loadBalancer?.proc?.running) await waitServersUp(lbSpec.statsUrl, servers, { timeoutMs: readyTimeoutMs });
      onEvent({ type: 'ready', key, name: handle.name, pid, restarted: false });
      return pid;
    },
    /** Starts HAProxy (replicas), then every service not yet running, in dependency order: one layer together. */
    async startAll() {
      if (loadBalancer && !loadBalancer.proc?.running) await system.start('loadBalancer');
      for (const layer of stopLayers(description.services).reverse()) {
        await Promise.all(layer.filter((key) => !services[key].proc?.running).map((key) => system.start(key)));
      }
    },
    /** Stop, merge extraEnv, start, wait ready (and, behind HAProxy, until it is in rotation again); the new pid. */
    async restart(key, extraEnv) {
      const pid = await handleOf(key).restart(extraEnv);
      const servers = lbServersOf([key]);
      if (servers.length && loadBalancer?.proc?.running) await waitServersUp(lbSpec.statsUrl, servers, { timeoutMs: readyTimeoutMs });
      return pid;
    },
    kill: (key) => handleOf(key).kill(),
    /** Dependants first, layer by layer, HAProxy last, within timeoutMs overall; resolves when all are gone. */
    async stop({ timeoutMs = STOP_TIMEOUT_MS } = {}) {
      stopping = true;
      const deadline = Date.now() + timeoutMs;
      for (const layer of stopLayers(description.services)) {
        const graceMs = Math.max(100, deadline - Date.now());
        await Promise.all(layer.map((key) => services[key].stop({ graceMs })));
      }
      await loadBalancer?.stop({ graceMs: Math.max(100, deadline - Date.now()) });
      if (lbDir) rmSync(lbDir, { recursive: true, force: true });
      lbDir = undefined;
      stopping = false;
    },
  };
  return system;
}
