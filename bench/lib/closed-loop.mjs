// Closed-loop load: `concurrency` workers, each sends one request, waits for
// its answer, sends the next. Only answers with the expected outcome count
// towards throughput and the latency histogram; everything else is an error,
// counted by kind. Bounded in time (warm-up + measured window + drain) and,
// through the request timeout of each client, never waits forever.
import { performance } from 'node:perf_hooks';
import * as hdr from 'hdr-histogram-js';

/** Latencies in microseconds, 1 us .. 120 s, 3 significant digits. */
export function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/** p50/p90/p99/max in milliseconds (3 decimals) of a histogram in microseconds. */
export function latencySummary(histogram) {
  if (histogram.totalCount === 0) return { count: 0, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null, meanMs: null };
  const ms = (us) => Math.round(us) / 1000;
  return {
    count: histogram.totalCount,
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    maxMs: ms(histogram.maxValue),
    meanMs: ms(histogram.mean),
  };
}

/**
 * @param {{
 *   concurrency: number,
 *   durationMs: number,
 *   warmupMs?: number,
 *   drainMs?: number,
 *   op: (worker: number, seq: number) => Promise<true | string>,
 * }} options  op resolves true for the expected outcome, or a short error kind ("status 503", "timeout")
 */
export async function runClosedLoop({ concurrency, durationMs, warmupMs = 0, drainMs = 15_000, op }) {
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) throw new RangeError(`concurrency ${concurrency}`);
  const histogram = newHistogram();
  const errors = new Map();
  let ok = 0;
  let sent = 0;
  let completed = 0;
  const startedAt = performance.now();
  const measureFrom = startedAt + warmupMs;
  const stopAt = measureFrom + durationMs;

  const worker = async (index) => {
    for (let seq = 0; performance.now() < stopAt; seq += 1) {
      const t0 = performance.now();
      sent += 1;
      let outcome;
      try {
        outcome = await op(index, seq);
      } catch (error) {
        outcome = errorKind(error);
      }
      const t1 = performance.now();
      completed += 1;
      // Only answers that both started and ended inside the window are measured.
      if (t0 < measureFrom || t1 > stopAt) continue;
      if (outcome === true) {
        ok += 1;
        histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
      } else {
        errors.set(outcome, (errors.get(outcome) ?? 0) + 1);
      }
    }
  };
  const all = Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  // Bounded drain: requests still in flight after the window are abandoned
  // (their clients time out on their own).
  let drained = true;
  await Promise.race([
    all,
    new Promise((resolve) => setTimeout(() => {
      drained = false;
      resolve();
    }, warmupMs + durationMs + drainMs).unref()),
  ]);
  const windowS = durationMs / 1000;
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    concurrency,
    durationS: round(windowS, 3),
    ok,
    errors: errorCount,
    errorKinds: Object.fromEntries([...errors.entries()].sort((a, b) => b[1] - a[1])),
    sent,
    completed,
    drained,
    throughputPerS: round(ok / windowS, 1),
    latency: latencySummary(histogram),
    histogram,
  };
}

/**
 * Open loop at a fixed rate (for "p99 at half of the peak throughput"):
 * request i is due at start + i / rate, whether or not earlier ones have
 * answered, and its latency is measured from when it was due, so a stall
 * shows up in the percentiles (no coordinated omission). In-flight requests
 * are bounded; a request that would exceed the bound counts as "overload".
 * @param {{ ratePerS: number, durationMs: number, warmupMs?: number, maxInFlight?: number, drainMs?: number,
 *           op: (seq: number) => Promise<true | string> }} options
 */
export async function runOpenLoop({ ratePerS, durationMs, warmupMs = 0, maxInFlight = 2_000, drainMs = 15_000, op }) {
  if (!(ratePerS > 0 && ratePerS <= 1_000_000)) throw new RangeError(`rate ${ratePerS}`);
  const histogram = newHistogram();
  const errors = new Map();
  let ok = 0;
  let inFlight = 0;
  let completed = 0;
  const pending = new Set();
  const startedAt = performance.now();
  const measureFrom = startedAt + warmupMs;
  const stopAt = measureFrom + durationMs;
  const total = Math.floor(((warmupMs + durationMs) / 1000) * ratePerS);
  const record = (due, outcome) => {
    const end = performance.now();
    if (due < measureFrom || due >= stopAt) return;
    if (outcome === true) {
      ok += 1;
      histogram.recordValue(Math.max(1, Math.round((end - due) * 1000)));
    } else {
      errors.set(outcome, (errors.get(outcome) ?? 0) + 1);
    }
  };
  for (let seq = 0; seq < total; seq += 1) {
    const due = startedAt + (seq * 1000) / ratePerS;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    if (inFlight >= maxInFlight) {
      record(due, 'overload');
      continue;
    }
    inFlight += 1;
    const p = op(seq)
      .catch((error) => errorKind(error))
      .then((outcome) => {
        inFlight -= 1;
        completed += 1;
        record(due, outcome);
      });
    pending.add(p);
    p.finally(() => pending.delete(p));
  }
  await Promise.race([Promise.all([...pending]), new Promise((resolve) => setTimeout(resolve, drainMs).unref())]);
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    targetRatePerS: round(ratePerS, 1),
    durationS: durationMs / 1000,
    ok,
    completed,
    errors: errorCount,
    errorKinds: Object.fromEntries([...errors.entries()].sort((a, b) => b[1] - a[1])),
    throughputPerS: round(ok / (durationMs / 1000), 1),
    latency: latencySummary(histogram),
    histogram,
  };
}

export function errorKind(error) {
  const code = error?.code;
  if (typeof code === 'string') return code.replace(/^UND_ERR_/, '').toLowerCase();
  if (typeof code === 'number') return `grpc ${code}`;
  return (error?.name ?? 'error').toLowerCase();
}

export function round(value, digits = 1) {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
