// A real Valkey (or Redis) server for tests: the api-gateway's shared rate-limit
// store. Found on PATH (valkey-server first, then redis-server); when missing,
// on Debian/Ubuntu as root, installed from the distribution's packages with
// apt-get (valkey-server where the release has it, else redis-server: Debian 12
// ships Redis 7.0), the way the bench installs pgbench. Started on a free
// loopback port in a temporary folder, without persistence, and stopped with a
// bound; it dies with its launcher (process.mjs, parent-death signal).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './infra.mjs';
import { spawnManaged } from './process.mjs';

const SERVER_NAMES = ['valkey-server', 'redis-server'];
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;
const APT_TIMEOUT_MS = 300_000;
const PING_TIMEOUT_MS = 1_000;

/** Absolute path of a valkey-server/redis-server binary, or undefined. */
function onPath() {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  const candidates = [process.env.VALKEY_SERVER];
  for (const name of SERVER_NAMES) candidates.push(...dirs.map((dir) => join(dir, name)), `/usr/bin/${name}`);
  return candidates.filter(Boolean).find((path) => existsSync(path));
}

/** True when apt knows a package by that name (Debian 12 has no valkey-server; 13 does). */
function aptHas(name) {
  const res = spawnSync('apt-cache', ['show', '--no-all-versions', name], { stdio: 'ignore', timeout: 60_000 });
  return res.status === 0;
}

/**
 * Finds the server binary; on Debian/Ubuntu as root installs it with apt-get when missing.
 * @param {{ install?: boolean, log?: (line: string) => void }} [options]
 * @returns {string | undefined}
 */
export function findValkeyServer({ install = true, log = () => {} } = {}) {
  const found = onPath();
  if (found) return found;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!install || !root || !existsSync('/usr/bin/apt-get')) return undefined;
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptHas('redis-server')) spawnSync('apt-get', ['update'], { stdio: 'ignore', timeout: APT_TIMEOUT_MS, env: aptEnv });
  const pkg = aptHas('valkey-server') ? 'valkey-server' : 'redis-server';
  log(`valkey/redis server not found: installing ${pkg} with apt-get`);
  // Containers ship a policy-rc.d that stops the package from starting a system-wide daemon.
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { stdio: 'ignore', timeout: APT_TIMEOUT_MS, env: aptEnv });
  return onPath();
}

/** Sends PING over RESP; resolves true on +PONG. */
function ping(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PING_TIMEOUT_MS, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/**
 * Starts a private server on a free loopback port.
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<{ url: string, port: number, binary: string, stop: () => Promise<void> }>}
 */
export async function startValkey({ log = () => {} } = {}) {
  const binary = findValkeyServer({ log });
  if (!binary) {
    throw new Error('no valkey-server or redis-server: install one (apt-get install valkey-server or redis-server), or set VALKEY_SERVER');
  }
  const dir = mkdtempSync(join(tmpdir(), 'wallet-valkey-'));
  const port = await freePort();
  // No RDB snapshots, no AOF: a test store; loopback only; protected mode stays on.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
  const server = spawnManaged({ name: 'valkey', command: binary, args, cwd: dir, onLine: log });
  const stop = async () => {
    await server.stop({ signal: 'SIGTERM', graceMs: STOP_GRACE_MS });
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await ping(port))) {
    if (!server.running || Date.now() > deadline) {
      const output = server.logs.slice(-20).join('\n');
      await stop();
      throw new Error(`${binary} did not start on port ${port} within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(50);
  }
  return { url: `redis://127.0.0.1:${port}`, port, binary, stop };
}
