import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { createMetricsRegistry, RED_BUCKETS_SECONDS, redHistogram } from '@wallet/platform';

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
