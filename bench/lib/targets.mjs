// The report's targets, evaluated from a run's rows (pure: unit-tested in
// test/bench/targets.test.ts). "Targets (issue 14)" has exactly the rows and
// goals of issue 14's table, each met or short by how much; the hot-account
// targets of issue 6 stay as a second table. Also the CPU-per-transfer summary
// and the token-check share of it.
import { checkMemory, isBoundedService } from './memory-bounds.mjs';
import { tokenChecksPerTransfer, VERIFYING_SERVICES } from './token-cost.mjs';

export const GOALS = Object.freeze({
  restRatioMin: 0.9,
  halfPeakP99MsMax: 25,
  lagP50MsMax: 100,
  lagP99MsMax: 500,
  historyP99MsMax: 20,
  historyReadsPerSMin: 2_000,
  historyReaders: 16,
  historyRowsMin: 10_000_000,
  deepPage: 251,
  deepPageP99MsMax: 50,
});

/** CPU ms per REST transfer over every process at the REST peak, 2026-11-25 (before authentication, mTLS and tracing). */
export const CPU_MS_PER_TRANSFER_2026_11_25 = 2.9;
/** The issue's figure: all processes at the REST peak on a quiet run (3,037/s on 2 cores). */
export const CPU_MS_PER_TRANSFER_ISSUE_14 = 0.64;

const f = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
const n = (v) => (v === null || v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));
const base = (run) => run.scenarios.filter((s) => !s.variant);

/** The best closed-loop REST uniform row (the peak). */
export function restPeak(run) {
  return base(run)
    .filter((s) => s.id.startsWith('rest-uniform-c'))
    .reduce((a, b) => (!a || b.throughputPerS > a.throughputPerS ? b : a), undefined);
}

/** A target row: met true/false, or null when not measured as the issue specifies (gap says why). */
const row = (target, goal, measured, met, gap = '') => ({ target, goal, measured, met, gap });

function restPeakTarget(run, security) {
  const peak = restPeak(run);
  const ceiling = run.ceiling?.tps;
  const target = 'REST uniform peak / pgbench ceiling';
  const goal = `≥ ${GOALS.restRatioMin * 100} %, with authentication and mTLS on`;
  if (!peak) return row(target, goal, 'not measured', null, 'no REST uniform phase ran');
  if (!ceiling) return row(target, goal, `${f(peak.throughputPerS)}/s, no ceiling`, null, 'no pgbench ceiling in this run');
  const r = peak.throughputPerS / ceiling;
  const measured = `${f(peak.throughputPerS)}/s at c = ${peak.concurrency} / ${f(ceiling)}/s = ${(r * 100).toFixed(0)} % (${security})`;
  if (r < GOALS.restRatioMin) return row(target, goal, measured, false, `short by ${((GOALS.restRatioMin - r) * 100).toFixed(0)} points (${Math.ceil(ceiling * GOALS.restRatioMin - peak.throughputPerS)}/s)`);
  return row(target, goal, measured, security.includes('off') ? null : true, security.includes('off') ? 'authentication or mTLS was off' : '');
}

function halfPeakTarget(run) {
  const half = base(run).find((s) => s.id.startsWith('rest-uniform-rate'));
  const target = 'p99 at half the peak, open loop (no coordinated omission)';
  const goal = `≤ ${GOALS.halfPeakP99MsMax} ms`;
  if (!half || half.latency?.p99Ms === null || half.latency?.p99Ms === undefined) return row(target, goal, 'not measured', null, 'no open-loop phase ran');
  const p99 = half.latency.p99Ms;
  const measured = `p99 ${f(p99)} ms (p50 ${f(half.latency.p50Ms)}) at ${f(half.targetRatePerS, 0)}/s${half.errors ? `, ${half.errors} errors` : ''}`;
  const over = [p99 > GOALS.halfPeakP99MsMax ? `${f(p99 - GOALS.halfPeakP99MsMax)} ms over` : '', half.errors ? `${half.errors} errors` : ''].filter(Boolean);
  return row(target, goal, measured, over.length === 0, over.join('; '));
}

function lagTarget(run) {
  const lag = base(run).find((s) => s.lag);
  const target = 'event lag 201 → visible in `/operations`, at the peak rate';
  const goal = `p50 ≤ ${GOALS.lagP50MsMax} ms, p99 ≤ ${GOALS.lagP99MsMax} ms`;
  if (!lag) return row(target, goal, 'not measured', null, 'no event-lag phase ran');
  const { p50Ms, p99Ms, notSeen = 0, seen = 0 } = lag.lag;
  const measured = `p50 ${f(p50Ms, 0)} ms, p99 ${f(p99Ms, 0)} ms (${seen} probes, poll ${lag.lag.pollIntervalMs} ms) at ${f(lag.throughputPerS)} transfers/s`;
  if (p50Ms === null || p50Ms === undefined) return row(target, goal, measured, false, notSeen ? `${notSeen} probes never visible` : 'no probe seen');
  const over = [
    p50Ms > GOALS.lagP50MsMax ? `p50 ${f(p50Ms - GOALS.lagP50MsMax, 0)} ms over` : '',
    p99Ms > GOALS.lagP99MsMax ? `p99 ${f(p99Ms - GOALS.lagP99MsMax, 0)} ms over` : '',
    notSeen ? `${notSeen} probes never visible` : '',
  ].filter(Boolean);
  return row(target, goal, measured, over.length === 0, over.join('; '));
}

/** The load generator's own CPU per read and what one core of it can offer. */
function offerCapacity(r) {
  const cpuMs = r?.cpuMsPerRequest?.['bench (load generator)'];
  return cpuMs ? { cpuMs, perCoreS: Math.floor(1000 / cpuMs) } : undefined;
}

function historyFirstPageTarget(run) {
  const rows = run.history?.rows ?? run.meta?.historyRows ?? 0;
  const closed = base(run).find((s) => s.id.startsWith('history-first-page-c'));
  const offered = base(run).find((s) => s.id.startsWith('history-first-page-rate'));
  const target = `history first page, ${GOALS.historyReaders} readers, 10 M operations stored`;
  const goal = `p99 ≤ ${GOALS.historyP99MsMax} ms, ≥ ${n(GOALS.historyReadsPerSMin)} reads/s`;
  if (!closed) return row(target, goal, 'not measured', null, 'no history phase ran');
  const p99 = closed.latency?.p99Ms;
  const readsPerS = Math.max(closed.throughputPerS ?? 0, offered?.throughputPerS ?? 0);
  // The load generator's CPU per read from the phase that served more (a phase of few reads inflates it).
  const capacity = offerCapacity((offered?.throughputPerS ?? 0) > (closed.throughputPerS ?? 0) ? offered : closed);
  const parts = [`c = ${closed.concurrency}: p99 ${f(p99)} ms, ${f(closed.throughputPerS)} reads/s`];
  if (offered) parts.push(`offered ${f(offered.targetRatePerS, 0)}/s open loop: ${f(offered.throughputPerS)} reads/s served, p99 ${f(offered.latency?.p99Ms)} ms${offered.errors ? `, ${offered.errors} errors` : ''}`);
  if (capacity) parts.push(`load generator ${f(capacity.cpuMs, 3)} ms CPU per read (≈ ${n(capacity.perCoreS)} reads/s per core)`);
  parts.push(`${n(rows)} operations stored`);
  const over = [
    p99 === null || p99 === undefined ? 'no successful read' : p99 > GOALS.historyP99MsMax ? `p99 ${f(p99 - GOALS.historyP99MsMax)} ms over` : '',
    readsPerS < GOALS.historyReadsPerSMin ? `${n(GOALS.historyReadsPerSMin - readsPerS)} reads/s short` : '',
  ].filter(Boolean);
  const setup = [
    rows < GOALS.historyRowsMin ? `only ${n(rows)} operations stored` : '',
    closed.concurrency !== GOALS.historyReaders ? `${closed.concurrency} readers, not ${GOALS.historyReaders}` : '',
  ].filter(Boolean);
  return row(target, goal, parts.join('; '), over.length > 0 ? false : setup.length > 0 ? null : true, [...over, ...setup].join('; '));
}

function deepPageTarget(run) {
  const deep = base(run).find((s) => s.id.startsWith('history-deep-page'));
  const page = run.history?.deepPages === undefined ? undefined : run.history.deepPages + 1;
  const target = `history page ${GOALS.deepPage} by cursor`;
  const goal = `p99 ≤ ${GOALS.deepPageP99MsMax} ms`;
  if (!deep) return row(target, goal, 'not measured', null, 'no deep-page phase ran');
  const p99 = deep.latency?.p99Ms;
  const measured = `page ${page ?? '?'}: p99 ${f(p99)} ms (p50 ${f(deep.latency?.p50Ms)}), c = ${deep.concurrency}`;
  if (p99 === null || p99 === undefined) return row(target, goal, measured, false, 'no successful read');
  const notTheIssues = page === GOALS.deepPage ? '' : `; page ${page ?? '?'}, not ${GOALS.deepPage}`;
  if (p99 > GOALS.deepPageP99MsMax) return row(target, goal, measured, false, `${f(p99 - GOALS.deepPageP99MsMax)} ms over${notTheIssues}`);
  return page === GOALS.deepPage ? row(target, goal, measured, true) : row(target, goal, measured, null, `page ${page ?? '?'}, not ${GOALS.deepPage}`);
}

/**
 * Memory of every service from the end of the first measured load phase to the
 * end of the run (memoryTrack: [{ id, mem: { [process]: MiB } }] after each phase).
 */
export function memoryOverRun(memoryTrack) {
  const first = memoryTrack.find((m) => m.id.startsWith('rest-uniform')) ?? memoryTrack[0];
  const last = memoryTrack[memoryTrack.length - 1];
  if (!first || !last || first === last) return undefined;
  const firstIndex = memoryTrack.indexOf(first);
  return Object.keys(last.mem)
    .filter(isBoundedService)
    .map((name) => {
      const series = memoryTrack.slice(firstIndex).map((m) => m.mem[name]).filter((v) => v !== undefined);
      return { service: name, startMiB: first.mem[name], endMiB: last.mem[name], ...checkMemory(name, { startMiB: first.mem[name], endMiB: last.mem[name], peakMiB: Math.max(...series) }) };
    });
}

function memoryTarget(memoryTrack) {
  const target = 'memory over the run';
  const goal = 'every service within its documented bound (growth / peak MiB, `bench/lib/memory-bounds.mjs`; 30-minute form: `--soak`)';
  const services = memoryOverRun(memoryTrack ?? []);
  if (!services || services.length === 0) return row(target, goal, 'not measured', null, 'fewer than two measured phases');
  const measured = services.map((s) => `${s.service} ${f(s.startMiB, 0)}→${f(s.endMiB, 0)} (peak ${f(s.peakMiB, 0)}; bound +${s.bound.growthMiBMax} / ${s.bound.peakMiBMax})`).join(', ');
  const over = services.filter((s) => !s.met).map((s) => `${s.service} ${s.why}`);
  return row(target, goal, measured, over.length === 0, over.join('; '));
}

/** The six rows of issue 14's table, in its order. */
export function evaluateIssue14Targets(run, memoryTrack, { security = 'authentication on, mTLS on' } = {}) {
  return [restPeakTarget(run, security), halfPeakTarget(run), lagTarget(run), historyFirstPageTarget(run), deepPageTarget(run), memoryTarget(memoryTrack)];
}

/** Issue 6's hot-account targets (group commit), kept as a second table. */
export function evaluateHotTargets(run) {
  const out = [];
  for (const side of ['sender', 'recipient']) {
    const rest = base(run).find((s) => s.id.startsWith(`rest-hot-${side}`));
    const sql = side === 'sender' ? run.ceiling?.hotSender : run.ceiling?.hotRecipient;
    if (!rest) continue;
    const r = sql ? rest.throughputPerS / sql.throughputPerS : null;
    out.push(
      row(`hot ${side} / raw-SQL hot-${side} ceiling`, '≥ 100 %', `${f(rest.throughputPerS)}/s vs ${f(sql?.throughputPerS)}/s (${r === null ? '–' : `${(r * 100).toFixed(0)} %`})`, r === null ? null : r >= 1, r !== null && r < 1 ? `short by ${Math.round(sql.throughputPerS - rest.throughputPerS)}/s` : ''),
    );
  }
  return out;
}

const sumCpu = (r) => (r?.cpuMsPerRequest ? Object.values(r.cpuMsPerRequest).reduce((a, b) => a + b, 0) : undefined);

/**
 * CPU ms per REST transfer: all processes at the peak and at half the peak,
 * against the earlier figures; and the share of the growth that TLS (this
 * run's mTLS comparison) and token checks (measured in-process × the hit rates
 * at the peak) explain.
 */
export function cpuPerTransferSummary(run) {
  const peak = restPeak(run);
  if (!peak?.cpuMsPerRequest) return undefined;
  const half = base(run).find((s) => s.id.startsWith('rest-uniform-rate'));
  const totalMs = Math.round(sumCpu(peak) * 1000) / 1000;
  const hitRates = Object.fromEntries(VERIFYING_SERVICES.map((s) => [s, peak.ops?.[s]?.tokenCache?.hitRate]));
  const tokens = run.tokenCost ? tokenChecksPerTransfer(run.tokenCost, hitRates) : undefined;
  const on = run.mtlsCompare && run.scenarios.find((s) => s.id === run.mtlsCompare.on?.restPeak);
  const off = run.mtlsCompare && run.scenarios.find((s) => s.id === run.mtlsCompare.off?.restPeak);
  const tlsMs = sumCpu(on) !== undefined && sumCpu(off) !== undefined ? Math.round((sumCpu(on) - sumCpu(off)) * 1000) / 1000 : undefined;
  return {
    peakId: peak.id,
    concurrency: peak.concurrency,
    totalMs,
    perProcess: peak.cpuMsPerRequest,
    halfPeakTotalMs: half?.cpuMsPerRequest ? Math.round(sumCpu(half) * 1000) / 1000 : undefined,
    halfPeakRatePerS: half?.targetRatePerS,
    growthMs: Math.round((totalMs - CPU_MS_PER_TRANSFER_2026_11_25) * 1000) / 1000,
    tlsMs,
    tokenChecksMs: tokens?.cpuMs,
    tokenMissesAssumedFor: tokens?.missesAssumedFor ?? [],
    hitRates,
  };
}

/** The summary as report lines. */
export function cpuSummaryLines(summary, tokenCost) {
  if (!summary) return [];
  const per = Object.entries(summary.perProcess).map(([g, v]) => `${g} ${f(v, 2)}`).join(', ');
  const lines = [
    `**CPU ms per REST transfer, all processes, at the peak (${summary.peakId}): ${f(summary.totalMs, 2)} ms** (${per})` +
      `${summary.halfPeakTotalMs !== undefined ? `; at half the peak (${f(summary.halfPeakRatePerS, 0)}/s): ${f(summary.halfPeakTotalMs, 2)} ms` : ''}. ` +
      `Earlier: ${CPU_MS_PER_TRANSFER_2026_11_25} ms on 2026-11-25 (before authentication, mTLS and tracing, c = 128), ${CPU_MS_PER_TRANSFER_ISSUE_14} ms in issue 14's quiet run.`,
  ];
  const rates = Object.entries(summary.hitRates).map(([s, r]) => `${s} ${r === null || r === undefined ? 'not reported' : `${f(r * 100, 1)} %`}`).join(', ');
  const tls = summary.tlsMs === undefined ? 'TLS: not measured in this run (`--mtls-compare`)' : `TLS ≈ ${f(summary.tlsMs, 3)} ms (this run's mTLS comparison, all processes, on − off)`;
  const token =
    summary.tokenChecksMs === undefined
      ? 'token checks: not measured'
      : `token checks ≈ ${f(summary.tokenChecksMs, 3)} ms (${VERIFYING_SERVICES.length} verifications per transfer; cached ${f(tokenCost?.cachedCpuUs, 1)} µs / uncached ${f(tokenCost?.uncachedCpuUs, 1)} µs CPU each; verified-token cache hit rate at the peak: ${rates}${summary.tokenMissesAssumedFor.length ? `; counted as misses where not reported` : ''})`;
  lines.push(`Growth since 2026-11-25: ${summary.growthMs >= 0 ? '+' : ''}${f(summary.growthMs, 2)} ms per transfer, of which ${tls} and ${token}.`);
  return lines;
}
