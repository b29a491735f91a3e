// Child processes that behave under a supervisor:
// - each runs in its own session/process group (detached), so a terminal's
//   Ctrl-C reaches only the launcher, which then stops things in order;
// - on Linux each is exec'd through `setpriv --pdeathsig KILL` (util-linux), so
//   the kernel kills it when the launcher dies (SIGKILL, closed terminal):
//   no orphans holding ports. PostgreSQL backends and the JVM's threads follow
//   their parent; a service has no children of its own;
// - stop is bounded: a polite signal, then SIGKILL to the whole group.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

const LOG_LINES_MAX = 2_000;

let setprivPath;
/** Absolute path of setpriv when it can set a parent-death signal here, else null. */
export function pdeathsigWrapper() {
  if (setprivPath !== undefined) return setprivPath;
  setprivPath = null;
  if (process.platform !== 'linux' || process.env.WALLET_NO_PDEATHSIG === '1') return setprivPath;
  const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 5_000 });
  if (probe.status === 0) setprivPath = 'setpriv';
  return setprivPath;
}

/**
 * Starts one managed process.
 * @param {{
 *   name: string, command: string, args?: string[], env?: NodeJS.ProcessEnv, cwd?: string,
 *   uid?: number, gid?: number,
 *   logPath?: string,                 // output appended to this file (no pipe through this process)
 *   onLine?: (line: string) => void,  // or: output piped, split into lines, kept in `logs`
 * }} options
 */
export function spawnManaged({ name, command, args = [], env = process.env, cwd, uid, gid, logPath, onLine }) {
  const wrapper = pdeathsigWrapper();
  const [file, argv] = wrapper ? [wrapper, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, args];
  let stdio = ['ignore', 'pipe', 'pipe'];
  let fd;
  if (logPath) {
    mkdirSync(dirname(logPath), { recursive: true });
    fd = openSync(logPath, 'a');
    stdio = ['ignore', fd, fd];
  }
  const child = spawn(file, argv, { env, cwd, uid, gid, stdio, detached: process.platform !== 'win32' });
  if (fd !== undefined) closeSync(fd);
  const logs = [];
  const handle = {
    name,
    child,
    pid: child.pid,
    logs,
    startedAtMs: Date.now(),
    /** Resolves with the exit code, or the signal name, once the process is gone. */
    exited: new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? signal));
      child.once('error', (error) => {
        logs.push(`spawn failed: ${error.message}`);
        resolve('spawn-error');
      });
    }),
    get running() {
      return child.exitCode === null && child.signalCode === null && child.pid !== undefined;
    },
    /** Sends a signal to the process (default) or its whole group. */
    signal(sig, { group = false } = {}) {
      if (!handle.running) return;
      try {
        if (group && process.platform !== 'win32') process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // already gone
      }
    },
    /** `signal`, then SIGKILL to the group after graceMs; resolves when the process is gone. */
    async stop({ signal = 'SIGTERM', graceMs = 5_000 } = {}) {
      if (!handle.running) return handle.exited;
      handle.signal(signal);
      const timer = setTimeout(() => handle.signal('SIGKILL', { group: true }), graceMs);
      const result = await handle.exited;
      clearTimeout(timer);
      // Anything left in the group (a grandchild) goes too.
      try {
        if (process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
      } catch {
        // group empty
      }
      return result;
    },
    /** SIGKILL at once (a crash). */
    async kill() {
      handle.signal('SIGKILL', { group: true });
      return handle.exited;
    },
  };
  if (!logPath) {
    const keep = (line) => {
      logs.push(line);
      if (logs.length > LOG_LINES_MAX) logs.shift();
      onLine?.(line);
    };
    // One splitter per stream: a partial stdout line never merges with stderr.
    child.stdout?.on('data', lineSplitter(keep));
    child.stderr?.on('data', lineSplitter(keep));
  }
  return handle;
}

function lineSplitter(onLine) {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line) onLine(line);
  };
}

/** True when a process with this pid exists (signal 0 probes without signalling). */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
}
