// CPU and memory of every process of the system, sampled from /proc (Linux)
// in a worker thread, so the reads never stall the load generator's event
// loop. A "group" is one logical process: a Node service, the Kafka JVM, or
// PostgreSQL (the postmaster and all its backends). CPU is utime+stime ticks
// between samples (100% = one core). Memory is the resident set (VmRSS) for
// single processes and the proportional set size (Pss) summed over a
// PostgreSQL's processes, so its shared buffers count once, not per backend.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

export const procAvailable = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: split after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

/** Nanoseconds this task (the process's main thread) has waited on a run queue for a CPU. */
function readRunDelayNs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1]) || 0;
  } catch {
    return 0;
  }
}

function readMemKb(pid, proportional) {
  if (proportional) {
    try {
      const match = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (match) return Number(match[1]);
    } catch {
      // fall back to VmRSS
    }
  }
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** All live pids with their parent, for descendant lookups. */
export function processTable() {
  const table = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(entry);
    if (stat) table.set(Number(entry), stat.ppid);
  }
  return table;
}

export function withDescendants(rootPid, table = processTable()) {
  if (!rootPid) return [];
  const pids = [rootPid];
  for (let i = 0; i < pids.length; i += 1) {
    for (const [pid, ppid] of table) if (ppid === pids[i]) pids.push(pid);
  }
  return pids;
}

/** First pid whose command line contains every needle (e.g. the Kafka JVM by its config path). */
export function findPidByCmdline(needles) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (needles.every((n) => cmdline.includes(n))) return Number(entry);
    } catch {
      // gone
    }
  }
  return undefined;
}

const round = (v) => Math.round(v * 10) / 10;

function summarise({ name, samples, startedAtMs }) {
  const groups = {};
  const names = new Set(samples.flatMap((s) => Object.keys(s)));
  for (const group of names) {
    const rows = samples.map((s) => s[group]).filter((r) => r && r.alive);
    if (rows.length === 0) continue;
    const cpu = rows.map((r) => r.cpuPct);
    const mem = rows.map((r) => r.memMiB);
    groups[group] = {
      cpuS: Math.round(rows.reduce((a, r) => a + r.cpuS, 0) * 100) / 100,
      cpuPctMean: round(cpu.reduce((a, b) => a + b, 0) / cpu.length),
      cpuPctMax: round(Math.max(...cpu)),
      runqWaitPctMean: round(rows.reduce((a, r) => a + r.runqWaitPct, 0) / rows.length),
      memMiBMean: round(mem.reduce((a, b) => a + b, 0) / mem.length),
      memMiBMax: round(Math.max(...mem)),
      memMiBLast: round(mem[mem.length - 1]),
    };
  }
  return { name, samples: samples.length, startedAtMs, endedAtMs: Date.now(), groups };
}

/** Worker body: samples the groups every intervalMs and answers mark / pids / snapshot / stop. */
function workerMain({ groups, intervalMs }) {
  const clkTck = (() => {
    try {
      return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      return 100;
    }
  })();
  const explicit = new Map(); // group name -> pids set by the main thread
  const segments = [];
  let current;
  let last = new Map();
  let lastDelay = new Map();
  let lastAt = performance.now();
  let first = true;
  const pidsOf = (group, table) => {
    if (explicit.has(group.name)) return explicit.get(group.name);
    if (group.pid) return [group.pid];
    if (group.tree) return withDescendants(group.tree, table);
    if (group.cmdline) {
      group.pid = findPidByCmdline(group.cmdline);
      return group.pid ? [group.pid] : [];
    }
    return [];
  };
  const sample = () => {
    const now = performance.now();
    const seconds = (now - lastAt) / 1000;
    const table = groups.some((g) => g.tree) ? processTable() : undefined;
    const next = new Map();
    const nextDelay = new Map();
    const row = {};
    for (const group of groups) {
      const pids = pidsOf(group, table).filter(Boolean);
      let deltaTicks = 0;
      let delayNs = 0;
      let memKb = 0;
      let alive = 0;
      for (const pid of pids) {
        const stat = readStat(pid);
        if (!stat) continue;
        alive += 1;
        next.set(pid, stat.ticks);
        const before = last.get(pid);
        // A pid born since the last sample: all its ticks are new.
        deltaTicks += before === undefined ? (first ? 0 : stat.ticks) : stat.ticks - before;
        const delay = readRunDelayNs(pid);
        nextDelay.set(pid, delay);
        if (lastDelay.has(pid)) delayNs += delay - lastDelay.get(pid);
        memKb += readMemKb(pid, Boolean(group.tree));
      }
      row[group.name] = {
        cpuPct: seconds > 0 && !first ? (deltaTicks / clkTck / seconds) * 100 : 0,
        cpuS: first ? 0 : deltaTicks / clkTck,
        // Share of wall time the main thread was runnable but waited for a CPU (contention).
        runqWaitPct: seconds > 0 && !first ? (delayNs / 1e9 / seconds) * 100 : 0,
        memMiB: memKb / 1024,
        alive: alive > 0,
      };
    }
    last = next;
    lastDelay = nextDelay;
    lastAt = now;
    first = false;
    if (current) current.samples.push(row);
    return row;
  };
  const close = () => {
    if (!current) return;
    sample();
    segments.push(summarise(current));
    current = undefined;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  parentPort.on('message', (msg) => {
    if (msg.type === 'mark') {
      close();
      current = { name: msg.name, samples: [], startedAtMs: Date.now() };
      parentPort.postMessage({ id: msg.id });
    } else if (msg.type === 'pids') {
      if (msg.pids) explicit.set(msg.name, msg.pids);
      else explicit.delete(msg.name);
    } else if (msg.type === 'snapshot') {
      parentPort.postMessage({ id: msg.id, row: sample() });
    } else if (msg.type === 'stop') {
      close();
      clearInterval(timer);
      parentPort.postMessage({ id: msg.id, segments });
    }
  });
}

if (!isMainThread && workerData?.procstat) workerMain(workerData);

/**
 * Starts the sampler worker. Groups: { name, pid } | { name, tree: rootPid } | { name, cmdline: [needles] };
 * setPids(name, pids) overrides a group's pids (e.g. a pgbench run).
 * @param {{ groups: object[], intervalMs?: number }} options
 */
export function startSampler({ groups, intervalMs = 1000 }) {
  if (!procAvailable) {
    const none = async () => ({ segments: [], row: {} });
    return { mark: none, setPids() {}, snapshot: async () => ({}), stop: async () => ({ segments: [] }) };
  }
  const worker = new Worker(new URL(import.meta.url), { workerData: { procstat: true, groups, intervalMs } });
  let seq = 0;
  const waiting = new Map();
  worker.on('message', (msg) => {
    waiting.get(msg.id)?.(msg);
    waiting.delete(msg.id);
  });
  const ask = (msg) =>
    new Promise((resolve) => {
      seq += 1;
      waiting.set(seq, resolve);
      worker.postMessage({ ...msg, id: seq });
    });
  return {
    /** Ends the running segment and starts one named `name`. */
    mark: (name) => ask({ type: 'mark', name }),
    setPids: (name, pids) => worker.postMessage({ type: 'pids', name, pids }),
    /** One sample now (memory at a point in time). */
    snapshot: async () => (await ask({ type: 'snapshot' })).row,
    async stop() {
      const { segments } = await ask({ type: 'stop' });
      await worker.terminate();
      return { segments };
    },
  };
}
