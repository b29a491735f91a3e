import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Buckets of every RED duration histogram: 5 ms .. 10 s, with the SLO thresholds 0.1, 0.25, 0.5, 1, 2.5 s present. */
export const RED_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A Prometheus registry with the process's default metrics and the heap limit, labelled by service. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  // The memory alert compares used heap with this (prom-client has no such metric).
  new Gauge({
    name: 'nodejs_heap_size_limit_bytes',
    help: 'V8 heap size limit (max-old-space-size) in bytes.',
    registers: [registry],
    collect() {
      this.set(getHeapStatistics().heap_size_limit);
    },
  });
  eventLoopDelayHistogram(registry);
  return registry;
}

/** Buckets of nodejs_eventloop_delay_seconds: 1 ms .. 5 s (the load-shedding default is 1 s). */
export const EVENT_LOOP_DELAY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** How often the event loop is sampled (perf_hooks.monitorEventLoopDelay, a native timer: no JS per sample). */
export const EVENT_LOOP_DELAY_RESOLUTION_MS = 10;

/**
 * nodejs_eventloop_delay_seconds: a cumulative histogram of the event loop's
 * delay, so a bench or Prometheus takes any window's distribution from two
 * scrapes (prom-client's nodejs_eventloop_lag_p99_seconds is reset by every
 * scrape, so two scrapers disturb each other). Each scrape moves what the
 * native monitor recorded since the last one into the histogram, one
 * observation per sample at its HDR percentile value (exact to the monitor's
 * precision), then resets the monitor.
 */
export function eventLoopDelayHistogram(registry: Registry): Histogram {
  const name = 'nodejs_eventloop_delay_seconds';
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram;
  const monitor = monitorEventLoopDelay({ resolution: EVENT_LOOP_DELAY_RESOLUTION_MS });
  monitor.enable();
  return new Histogram({
    name,
    help: `Event-loop delay, sampled every ${EVENT_LOOP_DELAY_RESOLUTION_MS} ms (perf_hooks.monitorEventLoopDelay); cumulative, unlike nodejs_eventloop_lag_p99_seconds.`,
    buckets: EVENT_LOOP_DELAY_BUCKETS_SECONDS,
    registers: [registry],
    collect() {
      // The monitor records the time between its timer's runs: the delay is what exceeds the interval.
      drainInto(monitor, (seconds) => this.observe(Math.max(0, seconds - EVENT_LOOP_DELAY_RESOLUTION_MS / 1000)));
    },
  });
}

/** Observes each sample the monitor holds (value = its percentile's), then resets it. */
export function drainInto(monitor: Pick<IntervalHistogram, 'count' | 'percentiles' | 'reset'>, observe: (seconds: number) => void): void {
  const count = monitor.count;
  if (count <= 0) return;
  const points = [...monitor.percentiles.entries()].sort((a, b) => a[0] - b[0]);
  let observed = 0;
  for (const [percentile, valueNs] of points) {
    const upTo = percentile >= 100 ? count : Math.min(count, Math.round((count * percentile) / 100));
    for (; observed < upTo; observed += 1) observe(valueNs / 1e9);
  }
  monitor.reset();
}

/**
 * The registry's histogram `name`, created once with the RED buckets: the
 * gRPC server, clients and HTTP plugin may each ask for it on the same registry.
 */
export function redHistogram<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram<L>({ name, help, labelNames, buckets: RED_BUCKETS_SECONDS, registers: [registry] });
}

/** Seconds since a process.hrtime.bigint() reading. */
export function secondsSince(startedNs: bigint): number {
  return Number(process.hrtime.bigint() - startedNs) / 1e9;
}
