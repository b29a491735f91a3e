// Summarises V8 .cpuprofile files (node --cpu-prof): self time by function
// and by module (npm package, node internals, the service's own code), plus
// total (inclusive) time of a few frames worth knowing about.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

function moduleOf(url) {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const svc = /\/(services|packages)\/([^/]+)\//.exec(url);
  if (svc) return `${svc[1]}/${svc[2]}`;
  return url.replace(/^file:\/\//, '');
}

function shortUrl(url) {
  if (!url) return '';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const svc = /\/((services|packages)\/.*)$/.exec(url);
  return svc ? svc[1] : url.replace(/^file:\/\//, '');
}

/** @returns {{ file: string, totalMs: number, idlePct: number, gcPct: number, topFunctions: object[], topModules: object[] }} */
export function summariseProfile(path, { top = 20, fromS = 0, toS = Infinity } = {}) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  // timeDeltas[i] is the time before samples[i]; attribute it to that sample's node.
  // Only samples inside [fromS, toS] seconds after the profile started (the load window) count.
  let atUs = 0;
  for (let i = 0; i < profile.samples.length; i += 1) {
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    atUs += delta;
    if (atUs < fromS * 1e6 || atUs > toS * 1e6) continue;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  let total = 0;
  let idle = 0;
  let gc = 0;
  const fn = new Map();
  const mod = new Map();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    const cf = node.callFrame;
    total += us;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (cf.functionName === '(garbage collector)') gc += us;
    const key = `${cf.functionName || '(anonymous)'} ${shortUrl(cf.url)}:${cf.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + us);
    const m = cf.functionName.startsWith('(') ? cf.functionName : moduleOf(cf.url);
    mod.set(m, (mod.get(m) ?? 0) + us);
  }
  const busy = total - idle;
  const rank = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), pctOfBusy: Math.round((us / busy) * 1000) / 10 }));
  return {
    file: path,
    windowS: [fromS, Number.isFinite(toS) ? toS : null],
    totalMs: Math.round(total / 1000),
    busyMs: Math.round(busy / 1000),
    idlePct: Math.round((idle / total) * 1000) / 10,
    gcPctOfBusy: Math.round((gc / busy) * 1000) / 10,
    topModules: rank(mod),
    topFunctions: rank(fn),
  };
}

export function summariseProfileDir(dir, options) {
  let files = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    return [];
  }
  // Worker threads write their own (here: idle) profiles; keep the ones that did work in the window.
  return files.map((f) => summariseProfile(join(dir, f), options)).filter((s) => s.busyMs > 0);
}

export function profileMarkdown(name, summary) {
  const lines = [`### ${name}`, '', `Busy ${summary.busyMs} ms of ${summary.totalMs} ms sampled (idle ${summary.idlePct}%); GC ${summary.gcPctOfBusy}% of busy.`, ''];
  lines.push('| module (self time) | ms | % of busy |', '|---|---|---|');
  for (const m of summary.topModules.slice(0, 12)) lines.push(`| ${m.name} | ${m.selfMs} | ${m.pctOfBusy} |`);
  lines.push('', '| function (self time) | ms | % of busy |', '|---|---|---|');
  for (const f of summary.topFunctions.slice(0, 20)) lines.push(`| \`${f.name.replace(/\|/g, '\\|')}\` | ${f.selfMs} | ${f.pctOfBusy} |`);
  lines.push('');
  return lines.join('\n');
}
