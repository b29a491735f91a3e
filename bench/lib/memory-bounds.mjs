// The one table of memory bounds the bench checks (the suite's "memory" target
// and `--soak`), per service, with the README that documents each. When a
// service's owner documents another bound, change it here and there together.
// growthMiBMax: resident-set growth allowed after the warm-up (soak) or from the
// end of the first measured load phase to the end of the run (suite);
// peakMiBMax: the largest resident set allowed at any sample.

/** @type {Readonly<Record<string, { growthMiBMax: number, peakMiBMax: number, source: string }>>} */
export const MEMORY_BOUNDS_MIB = Object.freeze({
  // Engine cap 768 MiB (ANALYTICS_MEMORY_ENGINE_MIB_MAX) + the Node heap and buffers.
  'analytics-service': { growthMiBMax: 150, peakMiBMax: 1_200, source: 'services/analytics-service/README.md "Memory"' },
  // With NODE_OPTIONS=--max-old-space-size=256 (scripts/lib/system.mjs, compose, the chart).
  'bank-service': { growthMiBMax: 100, peakMiBMax: 320, source: 'services/bank-service/README.md "Memory"' },
  'api-gateway': { growthMiBMax: 100, peakMiBMax: 512, source: 'bench/README.md "Memory bound" (plain Node service)' },
  'bank-card-adapter': { growthMiBMax: 100, peakMiBMax: 512, source: 'bench/README.md "Memory bound" (plain Node service)' },
  'identity-service': { growthMiBMax: 100, peakMiBMax: 512, source: 'bench/README.md "Memory bound" (plain Node service)' },
  'payment-gateway-mock': { growthMiBMax: 100, peakMiBMax: 512, source: 'bench/README.md "Memory bound" (plain Node service)' },
  // Bounded by its settings (one consumer batch, 16 sends in flight, the owner cache); retries wait in PostgreSQL.
  'webhook-service': { growthMiBMax: 100, peakMiBMax: 512, source: 'services/webhook-service/README.md "Memory" (plain Node service)' },
});

/** A plain Node service not in the table. */
export const DEFAULT_MEMORY_BOUND_MIB = Object.freeze({ growthMiBMax: 100, peakMiBMax: 512, source: 'bench/README.md "Memory bound" (default)' });

/** The bound of a process by name; a replica's instance name (`bank-service.2`) takes its service's bound. */
export function memoryBoundFor(name) {
  return MEMORY_BOUNDS_MIB[name] ?? MEMORY_BOUNDS_MIB[String(name).replace(/\.\d+$/, '')] ?? DEFAULT_MEMORY_BOUND_MIB;
}

/** Only our services are held to a bound (not PostgreSQL, Kafka, the load generator or pgbench). */
export function isBoundedService(name) {
  return /(service|gateway|adapter|mock)(\.\d+)?$/.test(String(name));
}

/**
 * Checks one service: growth = end − start, peak = the largest sample.
 * @returns {{ growthMiB: number | undefined, peakMiB: number, bound: object, met: boolean, why: string }}
 */
export function checkMemory(name, { startMiB, endMiB, peakMiB }) {
  const bound = memoryBoundFor(name);
  const growthMiB = startMiB === undefined || endMiB === undefined ? undefined : Math.round((endMiB - startMiB) * 10) / 10;
  const over = [];
  if (growthMiB === undefined) over.push('no samples after the warm-up');
  else if (growthMiB > bound.growthMiBMax) over.push(`grew ${growthMiB} MiB > ${bound.growthMiBMax}`);
  if (peakMiB > bound.peakMiBMax) over.push(`peak ${peakMiB} MiB > ${bound.peakMiBMax}`);
  return { growthMiB, peakMiB, bound, met: over.length === 0, why: over.join(', ') };
}
