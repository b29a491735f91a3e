// What the services themselves report on their ops `/metrics`, read at the
// start and end of every phase: the event-loop delay and the verified-token
// cache counters (`auth_verified_token_cache_{hits,misses}_total`). The delay
// comes from the platform's cumulative histogram `nodejs_eventloop_delay_seconds`
// (the phase's distribution = end − start buckets) where a service exports it,
// else from prom-client's `nodejs_eventloop_lag_{p50,p99,max}_seconds` gauges, a
// perf_hooks.monitorEventLoopDelay histogram that prom-client resets at each
// scrape (so the end-of-phase scrape covers exactly the phase). Both monitors
// sample every 10 ms and record the time between samples: the delay is what
// exceeds those 10 ms (an idle loop reads ≈ 10.1 ms).
// The parsing and the arithmetic are pure (unit-tested in test/bench/).

const SCRAPE_TIMEOUT_MS = 2_000;
/** A /metrics body larger than this is cut (bounded memory in the load generator). */
const SCRAPE_BYTES_MAX = 4 * 1024 * 1024;

/**
 * Prometheus text format (0.0.4) → samples. Comments, HELP/TYPE lines and
 * malformed lines are skipped; label values keep their escapes undone.
 * @param {string} text
 * @returns {{ name: string, labels: Record<string, string>, value: number }[]}
 */
export function parsePrometheus(text) {
  const samples = [];
  for (const raw of String(text).split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!match) continue;
    const value = Number(match[4] === '+Inf' ? Infinity : match[4] === '-Inf' ? -Infinity : match[4]);
    if (Number.isNaN(value) && match[4] !== 'NaN') continue;
    const labels = {};
    for (const m of (match[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

/** Sum of every sample of `name` (over all label sets); undefined when the metric is absent. */
export function sumOf(samples, name) {
  const matching = samples.filter((s) => s.name === name);
  return matching.length === 0 ? undefined : matching.reduce((a, s) => a + s.value, 0);
}

const ms = (seconds) => (seconds === undefined || !Number.isFinite(seconds) ? undefined : Math.round(seconds * 1e6) / 1e3);
/** The monitors' sampling interval (prom-client's eventLoopMonitoringPrecision default, the platform's too). */
export const EVENT_LOOP_RESOLUTION_S = 0.01;
const delayOf = (seconds) => (seconds === undefined ? undefined : Math.max(0, seconds - EVENT_LOOP_RESOLUTION_S));

/** Event-loop delay since the previous scrape from prom-client's gauges, in ms; undefined when not exported. */
export function eventLoopDelay(samples) {
  const p99 = sumOf(samples, 'nodejs_eventloop_lag_p99_seconds');
  if (p99 === undefined) return undefined;
  return {
    p50Ms: ms(delayOf(sumOf(samples, 'nodejs_eventloop_lag_p50_seconds'))),
    p99Ms: ms(delayOf(p99)),
    maxMs: ms(delayOf(sumOf(samples, 'nodejs_eventloop_lag_max_seconds'))),
    meanMs: ms(delayOf(sumOf(samples, 'nodejs_eventloop_lag_mean_seconds'))),
    source: 'nodejs_eventloop_lag_*_seconds',
  };
}

/** Cumulative buckets of histogram `name` (summed over label sets), by upper bound, +Inf last. */
export function histogramBuckets(samples, name) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const le = s.labels.le === '+Inf' ? Infinity : Number(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** end − start per bucket; a start larger than the end (a restart) counts from zero. */
export function bucketsDelta(start, end) {
  const before = new Map((start ?? []).map((b) => [b.le, b.count]));
  const restarted = end.some((b) => (before.get(b.le) ?? 0) > b.count);
  return end.map((b) => ({ le: b.le, count: restarted ? b.count : b.count - (before.get(b.le) ?? 0) }));
}

/**
 * The q-quantile (0..1) of cumulative buckets, interpolated linearly inside
 * its bucket as Prometheus' histogram_quantile does; beyond the last finite
 * bound it is that bound. Undefined when the buckets are empty.
 */
export function histogramQuantile(buckets, q) {
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank) {
      if (le === Infinity) return lower;
      return count === below ? le : lower + ((le - lower) * (rank - below)) / (count - below);
    }
    lower = le;
    below = count;
  }
  return lower;
}

const EVENT_LOOP_HISTOGRAM = 'nodejs_eventloop_delay_seconds';

/** A phase's event-loop delay: from the cumulative histogram between two scrapes, else from the gauges. */
export function phaseEventLoop(startSamples, endSamples) {
  const gauges = eventLoopDelay(endSamples);
  const end = histogramBuckets(endSamples, EVENT_LOOP_HISTOGRAM);
  if (end.length === 0) return gauges;
  const delta = bucketsDelta(startSamples ? histogramBuckets(startSamples, EVENT_LOOP_HISTOGRAM) : undefined, end);
  const p50 = histogramQuantile(delta, 0.5);
  if (p50 === undefined) return gauges;
  // Interpolating inside a wide bucket (0.25 – 0.5 s) can overshoot the phase's true maximum: never report more.
  const capped = (v) => (gauges?.maxMs === undefined ? ms(v) : Math.min(ms(v), gauges.maxMs));
  return { p50Ms: capped(p50), p99Ms: capped(histogramQuantile(delta, 0.99)), maxMs: gauges?.maxMs, samples: delta.at(-1).count, source: EVENT_LOOP_HISTOGRAM };
}

/** The verified-token cache counters, or undefined when the service has none. */
export function tokenCacheCounters(samples) {
  const hits = sumOf(samples, 'auth_verified_token_cache_hits_total');
  const misses = sumOf(samples, 'auth_verified_token_cache_misses_total');
  return hits === undefined && misses === undefined ? undefined : { hits: hits ?? 0, misses: misses ?? 0 };
}

/** A counter's increase between two readings; a smaller second reading is a restart (count from zero). */
export function counterDelta(before, after) {
  if (after === undefined) return undefined;
  if (before === undefined || after < before) return after;
  return after - before;
}

/**
 * One phase of one service, from its scrapes at the phase's start and end.
 * @returns {{ eventLoop?: object, tokenCache?: { hits: number, misses: number, hitRate: number | null }, error?: string }}
 */
export function phaseOfService(start, end) {
  if (!end || end.error) return { error: end?.error ?? 'not scraped' };
  const out = {};
  const loop = phaseEventLoop(start && !start.error ? start.samples : undefined, end.samples);
  if (loop) out.eventLoop = loop;
  const after = tokenCacheCounters(end.samples);
  if (after) {
    const before = start && !start.error ? tokenCacheCounters(start.samples) : undefined;
    const hits = counterDelta(before?.hits, after.hits);
    const misses = counterDelta(before?.misses, after.misses);
    out.tokenCache = { hits, misses, hitRate: hits + misses > 0 ? Math.round((hits / (hits + misses)) * 10_000) / 10_000 : null };
  }
  return out;
}

/** Every service of a phase: { [service]: phaseOfService }. */
export function phaseOps(start, end) {
  return Object.fromEntries(Object.keys(end ?? {}).map((name) => [name, phaseOfService(start?.[name], end[name])]));
}

/** The ops /metrics URL of a service handle (its readiness URL's origin). */
export function metricsUrlOf(handle) {
  return handle.metricsUrl ?? (handle.readyUrl ? new URL('/metrics', handle.readyUrl).href : undefined);
}

/**
 * Scrapes every service's /metrics in parallel, each bounded in time and size.
 * @param {() => { instanceName?: string, name: string, readyUrl?: string, metricsUrl?: string, pid?: number }[]} handles
 */
export function createOpsScraper(handles) {
  const scrapeOne = async (url) => {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
      if (res.status !== 200) return { error: `status ${res.status}` };
      const text = (await res.text()).slice(0, SCRAPE_BYTES_MAX);
      return { samples: parsePrometheus(text) };
    } catch (error) {
      return { error: error?.name === 'TimeoutError' ? `no answer within ${SCRAPE_TIMEOUT_MS} ms` : (error?.message ?? 'error') };
    }
  };
  return {
    async scrape() {
      const targets = handles().filter((h) => h.pid && metricsUrlOf(h));
      const results = await Promise.all(targets.map((h) => scrapeOne(metricsUrlOf(h))));
      return Object.fromEntries(targets.map((h, i) => [h.instanceName ?? h.name, results[i]]));
    },
  };
}

const fmtMs = (v) => (v === null || v === undefined ? '–' : v >= 100 ? v.toFixed(0) : v.toFixed(1));

/**
 * Report lines: one row per phase that was scraped, one column per service,
 * each cell "p50 / p99 / max" event-loop delay in ms over the phase.
 * @param {{ id: string, ops?: Record<string, { eventLoop?: { p50Ms?: number, p99Ms?: number, maxMs?: number }, error?: string }> }[]} rows
 */
export function eventLoopTable(rows) {
  const scraped = rows.filter((r) => r.ops && Object.keys(r.ops).length > 0);
  if (scraped.length === 0) return [];
  const services = [...new Set(scraped.flatMap((r) => Object.keys(r.ops)))];
  const cell = (o) => (o?.eventLoop ? `${fmtMs(o.eventLoop.p50Ms)} / ${fmtMs(o.eventLoop.p99Ms)} / ${fmtMs(o.eventLoop.maxMs)}` : o?.error ? 'not scraped' : '–');
  return [
    `| phase | ${services.join(' | ')} |`,
    `|---|${services.map(() => '---').join('|')}|`,
    ...scraped.map((r) => `| ${r.id} | ${services.map((s) => cell(r.ops[s])).join(' | ')} |`),
  ];
}
