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
  return registry;
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
