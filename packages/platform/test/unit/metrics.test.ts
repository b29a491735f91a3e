import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, drainInto, RED_BUCKETS_SECONDS, redHistogram } from '@wallet/platform';

describe('createMetricsRegistry', () => {
  it('exports nodejs_heap_size_limit_bytes (the memory alert divides by it), labelled by service', async () => {
    const registry = createMetricsRegistry('bank-service');
    const text = await registry.metrics();
    const line = text.split('\n').find((entry) => entry.startsWith('nodejs_heap_size_limit_bytes{'));
    expect(line).toBe(`nodejs_heap_size_limit_bytes{service="bank-service"} ${getHeapStatistics().heap_size_limit}`);
  });
});

describe('redHistogram', () => {
  it('is created once per registry, with buckets from 5 ms to 10 s including the SLO thresholds', () => {
    const registry = createMetricsRegistry('svc');
    const first = redHistogram(registry, 'x_seconds', 'help', ['a']);
    expect(redHistogram(registry, 'x_seconds', 'help', ['a'])).toBe(first);
    expect(RED_BUCKETS_SECONDS[0]).toBe(0.005);
    expect(RED_BUCKETS_SECONDS.at(-1)).toBe(10);
    for (const threshold of [0.1, 0.25, 0.5, 1, 2.5]) expect(RED_BUCKETS_SECONDS).toContain(threshold);
  });
});

describe('nodejs_eventloop_delay_seconds', () => {
  const bucketCount = async (registry: ReturnType<typeof createMetricsRegistry>, le: string) =>
    (await registry.getSingleMetricAsString('nodejs_eventloop_delay_seconds'))
      .split('\n')
      .find((line) => line.startsWith('nodejs_eventloop_delay_seconds_bucket{') && line.includes(`le="${le}"`))
      ?.split(' ')
      .at(-1);

  it('is a cumulative histogram on every service registry: a blocked loop shows in the upper buckets and stays there across scrapes', async () => {
    const registry = createMetricsRegistry('any-service');
    await registry.metrics(); // a first scrape: the histogram only grows from here
    // The monitor's first timer run only starts its clock: let it run before blocking.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const blockUntil = Date.now() + 120;
    while (Date.now() < blockUntil) {
      // Block the event loop for 120 ms.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const first = await registry.getSingleMetricAsString('nodejs_eventloop_delay_seconds');
    const count = (text: string) => Number(/nodejs_eventloop_delay_seconds_count\{[^}]*\} (\d+)/.exec(text)?.[1]);
    expect(count(first)).toBeGreaterThan(0);
    const total = Number(await bucketCount(registry, '+Inf'));
    const under50ms = Number(await bucketCount(registry, '0.05'));
    expect(total - under50ms).toBeGreaterThanOrEqual(1);
    // Another scrape does not reset it (unlike nodejs_eventloop_lag_p99_seconds).
    expect(count(await registry.metrics())).toBeGreaterThanOrEqual(count(first));
    expect(await registry.metrics()).toContain('nodejs_eventloop_lag_p99_seconds{service="any-service"}');
  });

  it('moves each recorded sample into the histogram once, at its percentile value', () => {
    const observed: number[] = [];
    let reset = false;
    drainInto(
      { count: 8, percentiles: new Map([[0, 1e6], [50, 2e6], [75, 4e6], [100, 8e6]]), reset: () => (reset = true) },
      (seconds) => observed.push(seconds),
    );
    expect(observed).toEqual([0.002, 0.002, 0.002, 0.002, 0.004, 0.004, 0.008, 0.008]);
    expect(reset).toBe(true);
  });
});
