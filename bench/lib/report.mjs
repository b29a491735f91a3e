// Writes a run's results: results.json (everything), report.md (tables,
// targets), latency-vs-throughput.svg/.png (vega-lite, rendered by resvg).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { mtlsSection } from './mtls-compare.mjs';
import { tracingSection } from './tracing-compare.mjs';
import { eventLoopTable } from './ops-metrics.mjs';
import { cpuPerTransferSummary, cpuSummaryLines } from './targets.mjs';

const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
const pct = (v) => (v === null || v === undefined || Number.isNaN(v) ? '–' : `${(v * 100).toFixed(0)}%`);

/** Drops histograms (not JSON) and keeps everything else. */
export function toJson(value) {
  return JSON.stringify(value, (key, v) => (key === 'histogram' || key === 'lagHistogram' ? undefined : typeof v === 'bigint' ? v.toString() : v), 2);
}

export async function renderChart(run, dir) {
  const values = [];
  const add = (series, rows) => {
    for (const r of rows) {
      if (!r || !r.latency || r.latency.count === 0) continue;
      for (const [percentile, key] of [['p50', 'p50Ms'], ['p99', 'p99Ms']]) {
        const level = r.concurrency ?? r.clients;
        values.push({ series, percentile, throughput: r.throughputPerS, latencyMs: Math.max(0.01, r.latency[key]), label: `${level}`, level });
      }
    }
  };
  add('raw-SQL ceiling (pgbench)', run.ceiling?.uniform ?? []);
  const base = run.scenarios.filter((s) => !s.variant);
  add('REST transfers (uniform)', base.filter((s) => s.id.startsWith('rest-uniform-c')));
  add('gRPC transfers (bank direct)', base.filter((s) => s.id.startsWith('grpc-uniform-c')));
  add('REST hot sender', base.filter((s) => s.id.startsWith('rest-hot-sender')));
  const variants = run.scenarios.filter((s) => s.variant && (s.id.startsWith('rest-uniform-c') || s.id.startsWith('rest-hot-sender')));
  for (const v of variants) add(`${v.id.startsWith('rest-hot') ? 'REST hot sender' : 'REST uniform'} [bank ${v.variant}]`, [v]);
  add('raw-SQL hot sender (pgbench)', run.ceiling?.hotSender ? [run.ceiling.hotSender] : []);
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Latency vs throughput (closed loop; labels = concurrency / pgbench clients)', subtitle: `solid = p50, dashed = p99 · ${run.meta.startedAt} · ${run.meta.mode} · load avg at start ${run.meta.loadAvgStart.join(' / ')}` },
    width: 760,
    height: 420,
    data: { values },
    encoding: {
      x: { field: 'throughput', type: 'quantitative', title: 'throughput (expected answers / s)' },
      y: { field: 'latencyMs', type: 'quantitative', title: 'latency (ms, log scale)', scale: { type: 'log' } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 0 } },
      // Each curve in concurrency order (a closed-loop curve can bend back when overloaded).
      order: { field: 'level', type: 'quantitative' },
    },
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          // Explained in the subtitle (resvg does not draw dashed legend symbols).
          strokeDash: { field: 'percentile', type: 'nominal', sort: ['p50', 'p99'], legend: null },
        },
      },
      { mark: { type: 'text', dx: 8, dy: -6, fontSize: 10 }, encoding: { text: { field: 'label' } }, transform: [{ filter: "datum.percentile === 'p99'" }] },
    ],
  };
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(join(dir, 'latency-vs-throughput.svg'), svg);
  const png = new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } })
    .render()
    .asPng();
  writeFileSync(join(dir, 'latency-vs-throughput.png'), png);
  writeFileSync(join(dir, 'chart.vl.json'), JSON.stringify(spec, null, 2));
}

function resultRow(r, ceilingTps) {
  const lat = r.latency ?? {};
  const errorKinds = Object.entries(r.errorKinds ?? {}).map(([k, v]) => `${k}: ${v}`).join(', ');
  return `| ${r.title} | ${r.concurrency ?? r.clients ?? (r.targetRatePerS ? `${fmt(r.targetRatePerS, 0)}/s` : '–')} | ${fmt(r.throughputPerS)} | ${pct(ceilingTps ? r.throughputPerS / ceilingTps : null)} | ${fmt(lat.p50Ms, 2)} | ${fmt(lat.p90Ms, 2)} | ${fmt(lat.p99Ms, 2)} | ${fmt(lat.maxMs, 1)} | ${r.errors ?? 0}${errorKinds ? ` (${errorKinds})` : ''} | ${r.loadAvg ? `${fmt(r.loadAvg.before, 2)} → ${fmt(r.loadAvg.after, 2)}` : '–'} |`;
}

/** How the run authenticated (issue 10): every request carries a bearer token. */
export function authLine(auth) {
  if (!auth) return 'Authentication: not recorded.';
  const s = auth.sessions ?? {};
  const limits = auth.rateLimits ? ` Rate limits: ${auth.rateLimits}.` : '';
  return (
    `Authentication: **${auth.mode}**. ${auth.users} users (${auth.usernames}) own the accounts; ` +
    `${s.logins ?? 0} logins (password grant, once per worker, ${fmt(s.loginS, 1)} s outside the measured windows), ` +
    `${s.refreshes ?? 0} token refreshes (token lifetime ${s.tokenLifetimeS ?? '?'} s)${s.refreshFailures ? `, ${s.refreshFailures} failed refreshes` : ''}; ` +
    `every REST call sends \`Authorization: Bearer\`, the gRPC-direct calls send it as \`authorization\` metadata.${limits}`
  );
}

const metCell = (t) => (t.met === null || t.met === undefined ? 'n/a' : t.met ? 'yes' : '**no**');

/** Issue 14's targets (exactly its rows), issue 6's hot-account targets, the CPU-per-transfer summary. */
export function targetsSection(run) {
  const lines = ['## Targets (issue 14)', '', '| figure | goal | measured | met? | short by |', '|---|---|---|---|---|'];
  for (const t of run.targets ?? []) lines.push(`| ${t.target} | ${t.goal ?? ''} | ${t.measured} | ${metCell(t)} | ${t.gap ?? ''} |`);
  lines.push('', '"n/a": not measured in this run, or measured but not as the issue specifies (a `--quick` run: fewer rows, pages or readers); the last column says which.', '');
  if (run.hotTargets?.length) {
    lines.push('Hot accounts (issue 6):', '', '| figure | goal | measured | met? | short by |', '|---|---|---|---|---|');
    for (const t of run.hotTargets) lines.push(`| ${t.target} | ${t.goal} | ${t.measured} | ${metCell(t)} | ${t.gap ?? ''} |`);
    lines.push('');
  }
  const summary = cpuPerTransferSummary(run);
  if (summary) lines.push(...cpuSummaryLines(summary, run.tokenCost), '');
  const tc = run.tokenCost;
  if (tc) {
    lines.push(
      `Token checks on their own (\`createTokenVerifier\` of \`@wallet/platform/auth\` in the load generator, one call at a time, against this run's issuer): ` +
        `${fmt(tc.uncachedCpuUs, 1)} µs CPU per verification without the verified-token cache (ES256, ${tc.uncachedPerS}/s), ${fmt(tc.cachedCpuUs, 1)} µs with it (a hit: SHA-256 + lookup, ${tc.cachedPerS}/s); ${tc.iterationsUncached} / ${tc.iterationsCached} calls.`,
      '',
    );
  } else if (run.tokenCostError) {
    lines.push(`Token checks on their own: not measured (${run.tokenCostError}).`, '');
  }
  return lines;
}

/** Per phase and service: event-loop delay as each service reports it on /metrics. */
function eventLoopSection(run) {
  const table = eventLoopTable([...(run.ceiling?.uniform ?? []), ...(run.ceiling?.hot ?? []), ...run.scenarios]);
  if (table.length === 0) return [];
  return [
    '## Event-loop delay per phase',
    '',
    "p50 / p99 / max ms of each service's event-loop delay over the phase (warm-up included), from its ops `/metrics` scraped at the phase's start and end: the cumulative histogram `nodejs_eventloop_delay_seconds` (end − start; percentiles interpolated in its buckets) where the service exports it, else prom-client's `nodejs_eventloop_lag_*_seconds` (reset by each scrape); max from the latter. Both sample every 10 ms; the delay is what exceeds those 10 ms: time a ready callback waited for the thread (CPU work, GC, or a CPU the machine could not give).",
    '',
    ...table,
    '',
  ];
}

export function markdown(run) {
  const ceilingTps = run.ceiling?.tps;
  const lines = [];
  const m = run.meta;
  lines.push(`# Bench report ${m.startedAt} (${m.mode})`, '');
  lines.push(
    `Machine: ${m.machine.cpus}× ${m.machine.cpuModel}, ${m.machine.memGiB} GiB; ${m.machine.os}; Node ${m.node}; PostgreSQL ${m.postgresVersion ?? '?'}; ${m.pgbench ?? 'no pgbench'}.`,
    `Commit ${m.gitCommit}${m.gitDirty ? ' (+ uncommitted changes)' : ''}. Target: ${m.target}. Load average at start: ${m.loadAvgStart.join(' / ')} (1/5/15 min); at end: ${(m.loadAvgEnd ?? []).join(' / ')}.`,
    `Total wall time ${fmt(m.wallS, 0)} s (start-up ${fmt(m.startupS, 0)} s). Accounts: ${m.accounts}. History rows: ${m.historyRows?.toLocaleString('en-US') ?? '–'}.`,
    authLine(m.auth),
    `gRPC-direct client: ${m.grpcClient ?? 'not recorded'}; every gRPC hop between the services is mutual TLS (ADR 0009) except in the rows marked [mTLS off].`,
    '',
  );
  if (m.notes?.length) lines.push(...m.notes.map((n) => `> ${n}`), '');
  lines.push(...targetsSection(run));
  lines.push(`## Results`, '', `Ceiling = best pgbench uniform run: **${fmt(ceilingTps)} transfers/s**. "ratio" = throughput / ceiling. Latencies in ms. Only expected answers count (201 for transfers, 200 for reads, 201 + \`Idempotent-Replayed: true\` for replays).`, '');
  lines.push('| scenario | conc. | throughput/s | ratio | p50 | p90 | p99 | max | errors | load avg 1m (before → after) |', '|---|---|---|---|---|---|---|---|---|---|');
  for (const r of [...(run.ceiling?.uniform ?? []), ...(run.ceiling?.hot ?? [])]) lines.push(resultRow(r, ceilingTps));
  for (const r of run.scenarios) lines.push(resultRow(r, ceilingTps));
  lines.push('');
  if (run.variant) {
    lines.push(`Rows marked [bank ...] ran after restarting bank-service with that configuration, in the same run (before/after).`, '');
  }
  lines.push(...tracingSection(run));
  lines.push(...mtlsSection(run));
  const mixed = run.scenarios.find((s) => s.perKind);
  if (mixed) {
    lines.push(`Mixed, per kind: balance reads p50 ${fmt(mixed.perKind.read.p50Ms, 2)} / p99 ${fmt(mixed.perKind.read.p99Ms, 2)} ms (${mixed.perKind.read.count}), transfers p50 ${fmt(mixed.perKind.transfer.p50Ms, 2)} / p99 ${fmt(mixed.perKind.transfer.p99Ms, 2)} ms (${mixed.perKind.transfer.count}); read share ${pct(mixed.readShare)}.`, '');
  }
  const lag = run.scenarios.find((s) => s.lag);
  if (lag) {
    lines.push(
      `Event lag (201 → visible in \`/operations\`, polled every ${lag.lag.pollIntervalMs} ms, under ${lag.concurrency} concurrent transfer workers at ${fmt(lag.throughputPerS)} transfers/s): p50 ${fmt(lag.lag.p50Ms, 0)} ms, p99 ${fmt(lag.lag.p99Ms, 0)} ms, max ${fmt(lag.lag.maxMs, 0)} ms over ${lag.lag.seen} probes (${lag.lag.notSeen} not seen within 15 s, ${lag.lag.errors} probe errors).`,
      '',
    );
  }
  if (run.history) {
    lines.push(`History store: ${run.history.rows?.toLocaleString('en-US')} operations in chDB (${run.history.parts} parts), bulk-loaded in ${fmt(run.history.loadS)} s; deep cursor = page ${run.history.deepPages + 1} of the heavy account (${run.history.heavyRows?.toLocaleString('en-US') ?? '~1%'} operations), walked in ${run.history.walkMs} ms.`, '');
  }
  lines.push(...eventLoopSection(run));
  lines.push(
    '## CPU and memory per scenario',
    '',
    'Per process: mean CPU % of one core (2 cores = 200%) / run-queue wait % (share of wall time its main thread was ready to run but waited for a CPU: high = the machine was contended) / max memory MiB (RSS; PostgreSQL: Pss summed over postmaster + backends, shared buffers counted once).',
    '',
  );
  const groups = [...new Set(run.resources.flatMap((s) => Object.keys(s.groups)))];
  lines.push(`| phase | ${groups.join(' | ')} |`, `|---|${groups.map(() => '---').join('|')}|`);
  for (const seg of run.resources) {
    lines.push(
      `| ${seg.name} | ${groups.map((g) => (seg.groups[g] ? `${fmt(seg.groups[g].cpuPctMean, 0)} / ${fmt(seg.groups[g].runqWaitPctMean, 0)} / ${fmt(seg.groups[g].memMiBMax, 0)}` : '–')).join(' | ')} |`,
    );
  }
  lines.push('');
  const withCpu = [...(run.ceiling?.uniform ?? []), ...(run.ceiling?.hot ?? []), ...run.scenarios].filter((r) => r.cpuMsPerRequest);
  if (withCpu.length) {
    const cpuGroups = [...new Set(withCpu.flatMap((r) => Object.keys(r.cpuMsPerRequest)))];
    lines.push('CPU milliseconds per completed request (all requests of the phase, warm-up included): the cost of one operation in each process, which a busy machine changes much less than throughput.', '');
    lines.push(`| scenario | ${cpuGroups.join(' | ')} |`, `|---|${cpuGroups.map(() => '---').join('|')}|`);
    for (const r of withCpu) lines.push(`| ${r.id} | ${cpuGroups.map((g) => fmt(r.cpuMsPerRequest[g], 2)).join(' | ')} |`);
    lines.push('');
  }
  if (run.memory) {
    lines.push('## Memory over the run', '', '| process | first (MiB) | last (MiB) | max (MiB) | growth |', '|---|---|---|---|---|');
    for (const [name, m2] of Object.entries(run.memory)) lines.push(`| ${name} | ${fmt(m2.first, 0)} | ${fmt(m2.last, 0)} | ${fmt(m2.max, 0)} | ${fmt(m2.last - m2.first, 0)} |`);
    lines.push('');
  }
  lines.push('![latency vs throughput](latency-vs-throughput.png)', '');
  return `${lines.join('\n')}\n`;
}
