// Guards of `npm start`: one launcher per data folder (a lock file holding the
// owner's pid; a stale one, whose owner is gone, is taken over with a note),
// and ports checked before anything starts, so a clash is one clear line
// instead of a failure deep inside PostgreSQL or Kafka.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { isAlive } from './process.mjs';

function readLock(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // missing, or half-written by a launcher killed mid-write: stale
  }
}

/** A live pid that is not a launcher (pid reused after a crash) does not hold the lock. */
function isLauncher(pid) {
  if (!isAlive(pid)) return false;
  if (process.platform !== 'linux') return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start.mjs');
  } catch {
    return false;
  }
}

/**
 * @param {string} path
 * @param {{ ports: Record<string, number>, note: (line: string) => void }} options
 * @returns {{ ok: true, release: () => void } | { ok: false, message: string }}
 */
export function acquireLock(path, { ports, note }) {
  const content = JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), ports });
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      writeFileSync(path, content, { flag: 'wx' });
      const release = () => {
        if (readLock(path)?.pid === process.pid) rmSync(path, { force: true });
      };
      process.once('exit', release);
      return { ok: true, release };
    } catch (error) {
      if (error.code !== 'EEXIST') return { ok: false, message: `cannot create the lock file ${path}: ${error.message}` };
    }
    const owner = readLock(path);
    if (owner?.pid && isLauncher(owner.pid)) {
      const rest = owner.ports?.gatewayHttp ? `, REST on port ${owner.ports.gatewayHttp}` : '';
      return {
        ok: false,
        message: `already running (pid ${owner.pid}, since ${owner.startedAt}${rest}); stop it with Ctrl-C in its terminal or \`kill ${owner.pid}\`, or use another --data-dir`,
      };
    }
    note(`taking over the stale lock ${path} (its launcher, pid ${owner?.pid ?? 'unknown'}, is gone)`);
    rmSync(path, { force: true });
  }
  return { ok: false, message: `could not take the lock ${path}: another launcher is starting at the same time` };
}

/** True when something listens on host:port (we cannot bind it). */
function inUse(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(error.code === 'EADDRINUSE' || error.code === 'EACCES'));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(false)));
  });
}

/** Names of the ports (of `ports`) that are taken, except those in skip. */
export async function busyPorts(ports, { skip = [] } = {}) {
  const busy = [];
  for (const [name, port] of Object.entries(ports)) {
    if (skip.includes(name)) continue;
    if (await inUse(port)) busy.push(name);
  }
  return busy;
}
