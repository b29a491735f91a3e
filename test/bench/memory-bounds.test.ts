// The one table of memory bounds (issue 14: every service within a documented
// bound), used by the suite's memory target and by --soak.
import { describe, expect, it } from 'vitest';
import { checkMemory, isBoundedService, memoryBoundFor, MEMORY_BOUNDS_MIB } from '../../bench/lib/memory-bounds.mjs';
import { evaluateSoak } from '../../bench/lib/soak.mjs';

describe('memory bounds', () => {
  it('has a bound for every service the bench starts, replicas taking their service\'s', () => {
    for (const name of ['analytics-service', 'bank-service', 'api-gateway', 'bank-card-adapter', 'identity-service', 'payment-gateway-mock']) {
      expect(MEMORY_BOUNDS_MIB[name], name).toBeDefined();
    }
    expect(memoryBoundFor('analytics-service.2')).toBe(MEMORY_BOUNDS_MIB['analytics-service']);
    expect(isBoundedService('bank-service.2')).toBe(true);
    expect(['postgres', 'kafka', 'bench (load generator)', 'pgbench'].some(isBoundedService)).toBe(false);
  });

  it('fails on growth or on peak beyond the bound, and when nothing was sampled after the warm-up', () => {
    expect(checkMemory('bank-service', { startMiB: 180, endMiB: 270, peakMiB: 300 }).met).toBe(true);
    expect(checkMemory('bank-service', { startMiB: 178, endMiB: 306, peakMiB: 306 })).toMatchObject({ met: false, growthMiB: 128, why: 'grew 128 MiB > 100' });
    expect(checkMemory('api-gateway', { startMiB: 500, endMiB: 520, peakMiB: 600 })).toMatchObject({ met: false, why: 'peak 600 MiB > 512' });
    expect(checkMemory('api-gateway', { startMiB: undefined, endMiB: undefined, peakMiB: 90 })).toMatchObject({ met: false, why: 'no samples after the warm-up' });
  });
});

describe('evaluateSoak', () => {
  it('checks every service after the warm-up against its own bound, and not PostgreSQL or Kafka', () => {
    const samples = [
      { atMs: 0, rssMiB: { 'bank-service': 100, 'analytics-service': 300, postgres: 100 } },
      { atMs: 60_000, rssMiB: { 'bank-service': 150, 'analytics-service': 400, postgres: 900 } },
      { atMs: 120_000, rssMiB: { 'bank-service': 260, 'analytics-service': 520, postgres: 900 } },
    ];
    const result = evaluateSoak(samples, 60_000);
    expect(result.map((s) => s.service)).toEqual(['bank-service', 'analytics-service']);
    expect(result[0]).toMatchObject({ rssAtWarmupEndMiB: 150, rssEndMiB: 260, growthAfterWarmupMiB: 110, met: false });
    expect(result[1]).toMatchObject({ growthAfterWarmupMiB: 120, rssPeakMiB: 520, met: true });
  });

  it('fails a service that has no sample after the warm-up (it died, or the run was too short)', () => {
    const result = evaluateSoak([{ atMs: 0, rssMiB: { 'api-gateway': 100 } }], 60_000);
    expect(result[0]).toMatchObject({ met: false, why: 'no samples after the warm-up' });
  });
});
