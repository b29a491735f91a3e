// `npm run bench -- --scale`: the pure half (issue 14, "cost as the work
// grows"). Turns the measured rows of bench/lib/scale.mjs into verdicts,
// scale-report.md and one Vega-Lite chart (the bench's charting library,
// rendered by resvg like lib/report.mjs). No I/O except renderScaleChart.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Throughput and CPU per transfer may move this much between the account levels (issue 14). */
export const ACCOUNTS_CHANGE_RATIO_MAX = 0.1;
/** History first page p99 goal (issue 14), at every stored size. */
export const HISTORY_P99_MS_MAX = 20;
/** Event lag goals (issue 14), at the peak rate. */
export const LAG_P50_MS_MAX = 100;
export const LAG_P99_MS_MAX = 500;

const fmt = (v, digits = 1) => (v === null || v === undefined || !Number.isFinite(v) ? '–' : Number(v).toFixed(digits));
const mean = (values) => {
  const xs = values.filter((v) => Number.isFinite(v));
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined;
};
/** "1 M", "10 k", "250 k" (a count for labels). */
export function shortCount(n) {
  if (!Number.isFinite(n)) return '–';
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)} k`;
  return String(n);
}

/** Sum of every sample of one Prometheus metric in an exposition text (all label sets); undefined when absent. */
export function promSum(text, name) {
  let sum;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}

/**
 * The largest history size to load for the big level: the first of `candidates`
 * (descending) that is above `baseRows`, loads within `timeLeftS` at the rate
 * the base load showed, and takes at most `diskShareMax` of the free disk.
 * @returns {{ rows: number, reason: string }} rows 0 = none fits
 */
export function historyRowsThatFit({ candidates, baseRows, rowsPerS, timeLeftS, bytesPerRow, freeBytes, diskShareMax = 0.5 }) {
  const tried = [];
  for (const rows of [...candidates].sort((a, b) => b - a)) {
    if (rows <= baseRows) break;
    const loadS = rows / rowsPerS;
    const bytes = rows * bytesPerRow;
    if (loadS > timeLeftS) tried.push(`${shortCount(rows)}: ~${Math.round(loadS)} s to load, ${Math.round(timeLeftS)} s of the budget left`);
    else if (bytes > freeBytes * diskShareMax) tried.push(`${shortCount(rows)}: ~${fmt(bytes / 2 ** 30)} GiB, more than ${Math.round(diskShareMax * 100)} % of ${fmt(freeBytes / 2 ** 30)} GiB free`);
    else return { rows, reason: tried.length ? `largest that fits (${tried.join('; ')})` : 'as planned' };
  }
  return { rows: 0, reason: tried.length ? `none fits (${tried.join('; ')})` : 'no size above the base level' };
}

/** CPU ms of each process group per unit over one sampler segment (undefined without a segment or units). */
export function cpuMsPer(segment, units) {
  if (!segment || !(units > 0)) return undefined;
  return Object.fromEntries(Object.entries(segment.groups).map(([group, v]) => [group, Math.round(((v.cpuS * 1000) / units) * 1000) / 1000]));
}

const total = (perGroup) => (perGroup ? Object.values(perGroup).reduce((a, b) => a + b, 0) : undefined);
const change = (from, to) => (Number.isFinite(from) && Number.isFinite(to) && from !== 0 ? (to - from) / from : undefined);
const signedPct = (ratio) => (ratio === undefined ? '–' : `${ratio >= 0 ? '+' : '−'}${Math.abs(ratio * 100).toFixed(1)} %`);

/** The three comparisons' verdicts: one line each for the report and the console. */
export function scaleVerdicts(result) {
  const verdicts = [];
  const levels = result.accounts?.levels ?? [];
  const base = levels.filter((l) => l.kind === 'base');
  const large = levels.filter((l) => l.kind === 'large');
  if (base.length && large.length) {
    const tput = change(mean(base.map((l) => l.throughputPerS)), mean(large.map((l) => l.throughputPerS)));
    const cpu = change(mean(base.map((l) => total(l.cpuMsPerTransfer))), mean(large.map((l) => total(l.cpuMsPerTransfer))));
    const within = [tput, cpu].every((r) => r !== undefined && Math.abs(r) <= ACCOUNTS_CHANGE_RATIO_MAX);
    // Two rounds of the large level: how much a shared machine drifted on its own.
    const drift = large.length > 1 ? change(large[0].throughputPerS, large[large.length - 1].throughputPerS) : undefined;
    verdicts.push({
      question: `Transfers at ${shortCount(base[0].accountsStored)} vs ${shortCount(large[0].accountsStored)} accounts: throughput and CPU per transfer within ±${ACCOUNTS_CHANGE_RATIO_MAX * 100} %`,
      measured: `throughput ${signedPct(tput)}, CPU ms per transfer (all processes) ${signedPct(cpu)}${drift === undefined ? '' : ` (the large level's two rounds: throughput ${signedPct(drift)})`}`,
      met: within,
    });
  }
  const history = result.history?.levels ?? [];
  if (history.length) {
    const over = history.filter((l) => !(l.p99Ms <= HISTORY_P99_MS_MAX));
    verdicts.push({
      question: `History first page p99 ≤ ${HISTORY_P99_MS_MAX} ms at ${history.map((l) => shortCount(l.rowsStored)).join(' and ')} stored operations`,
      measured: history.map((l) => `${shortCount(l.rowsStored)}: p99 ${fmt(l.p99Ms)} ms, ${fmt(l.readsPerS, 0)} reads/s`).join('; '),
      met: over.length === 0,
    });
  }
  const parts = result.partitions?.levels ?? [];
  if (parts.length) {
    const ok = parts.every((l) => l.lagP50Ms <= LAG_P50_MS_MAX && l.lagP99Ms <= LAG_P99_MS_MAX && !l.lagNotSeen);
    verdicts.push({
      question: `Event lag p50 ≤ ${LAG_P50_MS_MAX} / p99 ≤ ${LAG_P99_MS_MAX} ms at ${parts.map((l) => l.partitions).join(' / ')} partitions`,
      measured: parts.map((l) => `${l.partitions}: p50 ${fmt(l.lagP50Ms, 0)} / p99 ${fmt(l.lagP99Ms, 0)} ms, ${fmt(l.insertedPerS, 0)} events/s`).join('; '),
      met: ok,
    });
  }
  return verdicts;
}

const yesNo = (met) => (met === undefined ? 'n/a' : met ? 'yes' : '**no**');

function accountsSection(accounts) {
  if (!accounts?.levels?.length) return [];
  const groups = [...new Set(accounts.levels.flatMap((l) => Object.keys(l.cpuMsPerTransfer ?? {})))];
  const lines = [
    '## Transfers as the accounts grow',
    '',
    `REST uniform transfers, closed loop at ${accounts.concurrency} concurrent, ${fmt(accounts.loadMs / 1000, 1)} s windows. Levels in the order run: the base population, then ${shortCount(accounts.addedAccounts)} more accounts seeded with the bank CLI (${fmt(accounts.seedS)} s) and the large level twice with the base subset in between (same table, base working set), so drift of a shared machine shows as a difference between the rounds.`,
    '',
    `| level | accounts stored | accounts used | transfers/s | p50 ms | p99 ms | errors | ${groups.map((g) => `${g} CPU ms`).join(' | ')} | total CPU ms |`,
    `|---|---|---|---|---|---|---|${groups.map(() => '---|').join('')}---|`,
  ];
  for (const l of accounts.levels) {
    const cpu = l.cpuMsPerTransfer ?? {};
    lines.push(`| ${l.label} | ${l.accountsStored.toLocaleString('en-US')} | ${l.accountsUsed.toLocaleString('en-US')} | ${fmt(l.throughputPerS)} | ${fmt(l.p50Ms, 2)} | ${fmt(l.p99Ms, 2)} | ${l.errors ?? 0} | ${groups.map((g) => fmt(cpu[g], 3)).join(' | ')} | ${fmt(total(l.cpuMsPerTransfer), 3)} |`);
  }
  return [
    ...lines,
    '',
    "CPU ms per transfer = the process group's CPU time over the phase (warm-up included) / transfers completed in it. On a shared machine throughput moves with everyone else's load (compare the two large rounds); CPU per transfer is the figure to compare.",
    '',
  ];
}

function historySection(history) {
  if (!history?.levels?.length && !history?.note) return [];
  const lines = ['## History first page as the store grows', ''];
  if (history.note) lines.push(`> ${history.note}`, '');
  if (history.levels?.length) {
    lines.push(
      `REST \`/operations?limit=20\` of a random account of the reader's own, ${history.readers} readers, closed loop. Each size bulk-loaded into a fresh chDB folder with \`lib/history-load.mjs\` (one part per monthly partition) before the analytics-service opened it.`,
      '',
      '| stored operations | parts | load s | reads/s | p50 ms | p99 ms | max ms | errors | analytics CPU ms per read |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const l of history.levels) {
      lines.push(`| ${l.rowsStored.toLocaleString('en-US')} | ${l.parts ?? '–'} | ${fmt(l.loadS)} | ${fmt(l.readsPerS, 0)} | ${fmt(l.p50Ms, 2)} | ${fmt(l.p99Ms, 2)} | ${fmt(l.maxMs, 1)} | ${l.errors ?? 0} | ${fmt(l.cpuMsPerRead?.['analytics-service'], 2)} |`);
    }
    lines.push('');
  }
  return lines;
}

function partitionsSection(partitions) {
  if (!partitions?.levels?.length) return [];
  const lines = [
    '## Relay and consumer as the partitions grow',
    '',
    `REST transfers at ${partitions.concurrency} concurrent with event-lag probes (201 → visible in \`/operations\`), per partition count of the operations topic (raised in place with CreatePartitions, then the bank and the analytics-service restarted). Events/s from the bank's \`bank_outbox_events_published_total\` and the analytics-service's \`analytics_events_inserted_total\` over the phase.`,
    '',
    '| partitions | transfers/s | relay events/s | consumer events/s | lag p50 ms | p99 ms | max ms | probes seen / not seen | bank CPU ms per transfer | analytics CPU ms per event | kafka CPU ms per event |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const l of partitions.levels) {
    lines.push(
      `| ${l.partitions} | ${fmt(l.transfersPerS)} | ${fmt(l.publishedPerS, 0)} | ${fmt(l.insertedPerS, 0)} | ${fmt(l.lagP50Ms, 0)} | ${fmt(l.lagP99Ms, 0)} | ${fmt(l.lagMaxMs, 0)} | ${l.lagSeen ?? 0} / ${l.lagNotSeen ?? 0} | ${fmt(l.cpuMsPerTransfer?.['bank-service'], 3)} | ${fmt(l.cpuMsPerEvent?.['analytics-service'], 3)} | ${fmt(l.cpuMsPerEvent?.kafka, 3)} |`,
    );
  }
  return [...lines, ''];
}

/** scale-report.md */
export function scaleMarkdown(result) {
  const m = result.meta;
  const lines = [
    `# Scale report ${m.startedAt} (${m.mode})`,
    '',
    `Machine: ${m.machine?.cpus ?? '?'}× ${m.machine?.cpuModel ?? '?'}; Node ${m.node ?? '?'}. Commit ${m.gitCommit ?? '?'}${m.gitDirty ? ' (+ uncommitted changes)' : ''}. Load average at start ${(m.loadAvgStart ?? []).join(' / ')}, at end ${(m.loadAvgEnd ?? []).join(' / ')}.`,
    `Measured for ${fmt(m.measuredS, 0)} s of a ${m.budgetS} s budget, after ${fmt(m.setupS, 0)} s of start-up, seeding and logins (not counted, as in the suite); ${fmt(m.wallS, 0)} s in all. Authentication and mutual TLS on, as in the suite.`,
    '',
    ...(m.notes ?? []).map((n) => `> ${n}`),
    ...(m.notes?.length ? [''] : []),
    '## Verdicts (issue 14)',
    '',
    '| question | measured | met? |',
    '|---|---|---|',
    ...scaleVerdicts(result).map((v) => `| ${v.question} | ${v.measured} | ${yesNo(v.met)} |`),
    '',
    ...accountsSection(result.accounts),
    ...historySection(result.history),
    ...partitionsSection(result.partitions),
    '![cost as the work grows](scale.png)',
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/** One Vega-Lite spec, six panels: transfers/s and CPU per transfer by accounts level, history latency and reads/s by size, lag and events/s by partitions. */
export function scaleChartSpec(result) {
  const acc = result.accounts?.levels ?? [];
  const order = acc.map((l) => l.label);
  const tput = acc.map((l) => ({ level: l.label, throughput: l.throughputPerS }));
  const cpu = acc.flatMap((l) => Object.entries(l.cpuMsPerTransfer ?? {}).map(([process, ms]) => ({ level: l.label, process, ms })));
  const hist = (result.history?.levels ?? []).flatMap((l) => [
    { rows: shortCount(l.rowsStored), n: l.rowsStored, percentile: 'p50', ms: l.p50Ms },
    { rows: shortCount(l.rowsStored), n: l.rowsStored, percentile: 'p99', ms: l.p99Ms },
  ]);
  const parts = result.partitions?.levels ?? [];
  const lag = parts.flatMap((l) => [
    { partitions: l.partitions, percentile: 'p50', ms: l.lagP50Ms },
    { partitions: l.partitions, percentile: 'p99', ms: l.lagP99Ms },
  ]).filter((d) => Number.isFinite(d.ms));
  const rates = parts.flatMap((l) => [
    { partitions: l.partitions, series: 'relay events/s', perS: l.publishedPerS },
    { partitions: l.partitions, series: 'consumer events/s', perS: l.insertedPerS },
    { partitions: l.partitions, series: 'transfers/s', perS: l.transfersPerS },
  ]).filter((d) => Number.isFinite(d.perS));
  const reads = (result.history?.levels ?? []).map((l) => ({ rows: shortCount(l.rowsStored), n: l.rowsStored, readsPerS: l.readsPerS }));
  const panel = (title, values, rest) => ({ title, width: 300, height: 200, data: { values }, ...rest });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Cost as the work grows (issue 14)', subtitle: `${result.meta.startedAt} · ${result.meta.mode} · load avg at start ${(result.meta.loadAvgStart ?? []).join(' / ')}` },
    columns: 3,
    concat: [
      panel('REST transfers/s by accounts level', tput, {
        mark: { type: 'bar' },
        encoding: { x: { field: 'level', type: 'nominal', sort: order, title: null, axis: { labelAngle: 0 } }, y: { field: 'throughput', type: 'quantitative', title: 'transfers / s' } },
      }),
      panel('CPU ms per transfer by process', cpu, {
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'level', type: 'nominal', sort: order, title: null, axis: { labelAngle: 0 } },
          y: { field: 'ms', type: 'quantitative', title: 'CPU ms / transfer', stack: 'zero' },
          color: { field: 'process', type: 'nominal', title: null, legend: { orient: 'right', labelLimit: 0 } },
        },
      }),
      panel(`History first page latency by stored operations (goal p99 ≤ ${HISTORY_P99_MS_MAX} ms)`, hist, {
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'rows', type: 'nominal', sort: { field: 'n' }, title: 'stored operations', axis: { labelAngle: 0 } },
          xOffset: { field: 'percentile' },
          y: { field: 'ms', type: 'quantitative', title: 'ms' },
          color: { field: 'percentile', type: 'nominal', title: null, scale: { scheme: 'set2' } },
        },
      }),
      panel('History first page reads/s by stored operations', reads, {
        mark: { type: 'bar' },
        encoding: {
          x: { field: 'rows', type: 'nominal', sort: { field: 'n' }, title: 'stored operations', axis: { labelAngle: 0 } },
          y: { field: 'readsPerS', type: 'quantitative', title: 'reads / s' },
        },
      }),
      panel(`Event lag by partitions (goal p50 ≤ ${LAG_P50_MS_MAX}, p99 ≤ ${LAG_P99_MS_MAX} ms)`, lag, {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'partitions', type: 'ordinal', title: 'partitions of the operations topic', axis: { labelAngle: 0 } },
          y: { field: 'ms', type: 'quantitative', title: 'lag ms (201 → visible)' },
          color: { field: 'percentile', type: 'nominal', title: null, scale: { scheme: 'set2' } },
        },
      }),
      panel('Events and transfers per second by partitions', rates, {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'partitions', type: 'ordinal', title: 'partitions of the operations topic', axis: { labelAngle: 0 } },
          y: { field: 'perS', type: 'quantitative', title: 'per second' },
          color: { field: 'series', type: 'nominal', title: null, scale: { scheme: 'dark2' }, legend: { orient: 'right', labelLimit: 0 } },
        },
      }),
    ],
    resolve: { scale: { color: 'independent' } },
  };
}

/** Renders scale.svg, scale.png and scale.vl.json into `dir`. */
export async function renderScaleChart(result, dir) {
  const [{ Resvg }, vega, vegaLite] = await Promise.all([import('@resvg/resvg-js'), import('vega'), import('vega-lite')]);
  const spec = scaleChartSpec(result);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(join(dir, 'scale.svg'), svg);
  const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  writeFileSync(join(dir, 'scale.png'), png);
  writeFileSync(join(dir, 'scale.vl.json'), JSON.stringify(spec, null, 2));
}
