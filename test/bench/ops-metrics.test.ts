// The bench's reading of each service's /metrics (issue 14): event-loop delay
// per phase and the verified-token cache counters, pure parts.
import { describe, expect, it } from 'vitest';
import { bucketsDelta, counterDelta, eventLoopDelay, eventLoopTable, histogramBuckets, histogramQuantile, metricsUrlOf, parsePrometheus, phaseEventLoop, phaseOfService, phaseOps, tokenCacheCounters } from '../../bench/lib/ops-metrics.mjs';

const text = [
  '# HELP nodejs_eventloop_lag_p99_seconds The 99th percentile of the recorded event loop delays.',
  '# TYPE nodejs_eventloop_lag_p99_seconds gauge',
  'nodejs_eventloop_lag_p50_seconds{service="bank-service"} 0.010223615',
  'nodejs_eventloop_lag_p99_seconds{service="bank-service"} 0.031457279',
  'nodejs_eventloop_lag_max_seconds{service="bank-service"} 0.2',
  'nodejs_eventloop_lag_mean_seconds{service="bank-service"} 0.0111',
  'auth_verified_token_cache_hits_total{service="bank-service",verifier="a"} 90',
  'auth_verified_token_cache_hits_total{service="bank-service",verifier="b"} 10',
  'auth_verified_token_cache_misses_total{service="bank-service"} 25 1733130000000',
  'odd_label{path="a \\"quoted\\" \\\\ value"} +Inf',
  'not a metric line',
].join('\n');

describe('parsePrometheus', () => {
  it('reads samples with labels, timestamps and escapes, skipping comments and junk', () => {
    const samples = parsePrometheus(text);
    expect(samples).toHaveLength(8);
    expect(samples[0]).toEqual({ name: 'nodejs_eventloop_lag_p50_seconds', labels: { service: 'bank-service' }, value: 0.010223615 });
    expect(samples[6]).toEqual({ name: 'auth_verified_token_cache_misses_total', labels: { service: 'bank-service' }, value: 25 });
    expect(samples[7]).toEqual({ name: 'odd_label', labels: { path: 'a "quoted" \\ value' }, value: Infinity });
  });
});

describe('eventLoopDelay and tokenCacheCounters', () => {
  it('turns the gauges into milliseconds of delay beyond the 10 ms sampling interval and sums the counters over label sets', () => {
    const samples = parsePrometheus(text);
    expect(eventLoopDelay(samples)).toEqual({ p50Ms: 0.224, p99Ms: 21.457, maxMs: 190, meanMs: 1.1, source: 'nodejs_eventloop_lag_*_seconds' });
    expect(tokenCacheCounters(samples)).toEqual({ hits: 100, misses: 25 });
  });

  it('is undefined for a service that exports neither', () => {
    const samples = parsePrometheus('process_cpu_seconds_total 3\n');
    expect(eventLoopDelay(samples)).toBeUndefined();
    expect(tokenCacheCounters(samples)).toBeUndefined();
  });
});

describe('counterDelta', () => {
  it('is the increase, or the new reading when the process restarted in between', () => {
    expect(counterDelta(10, 25)).toBe(15);
    expect(counterDelta(40, 5)).toBe(5);
    expect(counterDelta(undefined, 7)).toBe(7);
    expect(counterDelta(3, undefined)).toBeUndefined();
  });
});

describe('phaseOfService / phaseOps', () => {
  const scrape = (hits: number, misses: number, p99: number) => ({
    samples: parsePrometheus(`auth_verified_token_cache_hits_total ${hits}\nauth_verified_token_cache_misses_total ${misses}\nnodejs_eventloop_lag_p99_seconds ${p99}\n`),
  });

  it('takes the event-loop delay from the end scrape and the hit rate from the counters between the scrapes', () => {
    const phase = phaseOfService(scrape(100, 10, 0.5), scrape(1_090, 20, 0.012));
    expect(phase.eventLoop?.p99Ms).toBe(2);
    expect(phase.tokenCache).toEqual({ hits: 990, misses: 10, hitRate: 0.99 });
  });

  it('has no hit rate when no token was checked, and says when a service could not be scraped', () => {
    expect(phaseOfService(scrape(5, 5, 0), scrape(5, 5, 0)).tokenCache).toEqual({ hits: 0, misses: 0, hitRate: null });
    expect(phaseOfService(scrape(1, 1, 0), { error: 'status 404' })).toEqual({ error: 'status 404' });
    expect(phaseOps(undefined, { gw: scrape(3, 1, 0) }).gw!.tokenCache?.hitRate).toBe(0.75);
  });
});

describe('the cumulative event-loop histogram', () => {
  const histogram = (counts: [string, number][]) =>
    parsePrometheus(counts.map(([le, c]) => `nodejs_eventloop_delay_seconds_bucket{service="x",le="${le}"} ${c}`).join('\n'));

  it('reads buckets by bound and takes a phase as end minus start, a restart counting from zero', () => {
    const start = histogramBuckets(histogram([['0.001', 100], ['0.01', 150], ['+Inf', 160]]), 'nodejs_eventloop_delay_seconds');
    const end = histogramBuckets(histogram([['0.01', 250], ['0.001', 180], ['+Inf', 290]]), 'nodejs_eventloop_delay_seconds');
    expect(end).toEqual([{ le: 0.001, count: 180 }, { le: 0.01, count: 250 }, { le: Infinity, count: 290 }]);
    expect(bucketsDelta(start, end)).toEqual([{ le: 0.001, count: 80 }, { le: 0.01, count: 100 }, { le: Infinity, count: 130 }]);
    expect(bucketsDelta(end, start)).toEqual(start);
  });

  it('interpolates quantiles inside a bucket like histogram_quantile, capped at the last finite bound', () => {
    const buckets = [{ le: 0.001, count: 50 }, { le: 0.01, count: 90 }, { le: Infinity, count: 100 }];
    expect(histogramQuantile(buckets, 0.5)).toBeCloseTo(0.001);
    expect(histogramQuantile(buckets, 0.7)).toBeCloseTo(0.0055);
    expect(histogramQuantile(buckets, 0.99)).toBe(0.01);
    expect(histogramQuantile([{ le: Infinity, count: 0 }], 0.5)).toBeUndefined();
  });

  it('is preferred over the gauges, keeping the gauges\' max', () => {
    const end = [...histogram([['0.001', 10], ['0.01', 20], ['+Inf', 20]]), ...parsePrometheus('nodejs_eventloop_lag_p99_seconds 0.5\nnodejs_eventloop_lag_max_seconds 0.06\n')];
    expect(phaseEventLoop(undefined, end)).toEqual({ p50Ms: 1, p99Ms: 9.82, maxMs: 50, samples: 20, source: 'nodejs_eventloop_delay_seconds' });
    expect(phaseEventLoop(end, end)?.source).toBe('nodejs_eventloop_lag_*_seconds');
    const wide = [...histogram([['0.25', 0], ['0.5', 10], ['+Inf', 10]]), ...parsePrometheus('nodejs_eventloop_lag_p99_seconds 0.3\nnodejs_eventloop_lag_max_seconds 0.31\n')];
    expect(phaseEventLoop(undefined, wide)).toMatchObject({ p50Ms: 300, p99Ms: 300, maxMs: 300 });
  });
});

describe('metricsUrlOf', () => {
  it('is /metrics on the readiness URL\'s origin unless a metrics URL is given', () => {
    expect(metricsUrlOf({ readyUrl: 'http://127.0.0.1:9001/readyz' })).toBe('http://127.0.0.1:9001/metrics');
    expect(metricsUrlOf({ readyUrl: 'http://x/healthz', metricsUrl: 'http://y/metrics' })).toBe('http://y/metrics');
    expect(metricsUrlOf({})).toBeUndefined();
  });
});

describe('eventLoopTable', () => {
  it('has one row per scraped phase and one column per service, p50 / p99 / max', () => {
    const lines = eventLoopTable([
      { id: 'pgbench-uniform-c32' },
      { id: 'rest-uniform-c128', ops: { 'api-gateway': { eventLoop: { p50Ms: 10.2, p99Ms: 45.1, maxMs: 210 } }, 'bank-service': { error: 'timeout' } } },
    ]);
    expect(lines).toEqual(['| phase | api-gateway | bank-service |', '|---|---|---|', '| rest-uniform-c128 | 10.2 / 45.1 / 210 | not scraped |']);
    expect(eventLoopTable([{ id: 'a' }])).toEqual([]);
  });
});
