// The report's "Targets (issue 14)" table and CPU-per-transfer summary, pure.
import { describe, expect, it } from 'vitest';
import { cpuPerTransferSummary, cpuSummaryLines, evaluateHotTargets, evaluateIssue14Targets, memoryOverRun, type MemoryTrackEntry, type RunLike, type RunRow } from '../../bench/lib/targets.mjs';

const lat = (p50Ms: number, p99Ms: number) => ({ p50Ms, p99Ms });

function fullRun(overrides: Partial<Record<string, Partial<RunRow>>> = {}): RunLike {
  const rows = ([
    { id: 'rest-uniform-c128', concurrency: 128, throughputPerS: 500, latency: lat(200, 400), cpuMsPerRequest: { 'api-gateway': 1.5, 'bank-service': 1.2, postgres: 0.6 } },
    { id: 'rest-uniform-c512', concurrency: 512, throughputPerS: 480, latency: lat(900, 1500) },
    { id: 'rest-uniform-rate250', targetRatePerS: 250, throughputPerS: 250, latency: lat(12, 24), errors: 0, cpuMsPerRequest: { 'api-gateway': 3, 'bank-service': 2 } },
    { id: 'event-lag-c128', concurrency: 128, throughputPerS: 480, lag: { p50Ms: 80, p99Ms: 450, seen: 40, notSeen: 0, pollIntervalMs: 50 } },
    { id: 'history-first-page-c16', concurrency: 16, throughputPerS: 1_500, latency: lat(5, 15), cpuMsPerRequest: { 'bench (load generator)': 0.2 } },
    { id: 'history-first-page-rate2000', targetRatePerS: 2_000, throughputPerS: 2_000, latency: lat(4, 12), errors: 0, cpuMsPerRequest: { 'bench (load generator)': 0.1 } },
    { id: 'history-deep-page-c16', concurrency: 16, throughputPerS: 900, latency: lat(20, 40) },
  ] as RunRow[]).map((r) => ({ ...r, ...overrides[r.id] }));
  return { scenarios: rows, ceiling: { tps: 550 }, history: { rows: 10_000_000, deepPages: 250 } };
}
const track: MemoryTrackEntry[] = [
  { id: 'warm-up', mem: { 'bank-service': 150, postgres: 100 } },
  { id: 'rest-uniform-c128', mem: { 'bank-service': 180, 'api-gateway': 190, postgres: 100 } },
  { id: 'history-deep-page-c16', mem: { 'bank-service': 250, 'api-gateway': 200, postgres: 400 } },
];

describe('evaluateIssue14Targets', () => {
  it('has exactly issue 14\'s six rows, in its order, all met by a run that meets them', () => {
    const rows = evaluateIssue14Targets(fullRun(), track);
    expect(rows.map((r) => r.target)).toEqual([
      'REST uniform peak / pgbench ceiling',
      'p99 at half the peak, open loop (no coordinated omission)',
      'event lag 201 → visible in `/operations`, at the peak rate',
      'history first page, 16 readers, 10 M operations stored',
      'history page 251 by cursor',
      'memory over the run',
    ]);
    expect(rows.map((r) => [r.met, r.gap])).toEqual(rows.map(() => [true, '']));
    expect(rows[0]!.measured).toContain('91 %');
    expect(rows[3]!.measured).toContain('≈ 10,000 reads/s per core');
  });

  it('says by how much each goal falls short', () => {
    const rows = evaluateIssue14Targets(
      fullRun({
        'rest-uniform-c128': { throughputPerS: 272.9 },
        'rest-uniform-c512': { throughputPerS: 330.9 },
        'rest-uniform-rate250': { latency: lat(195, 1822.7) },
        'event-lag-c128': { lag: { p50Ms: 1338, p99Ms: 1976, seen: 22, notSeen: 1, pollIntervalMs: 50 } },
        'history-first-page-c16': { throughputPerS: 32.7, latency: lat(463, 567.3) },
        'history-first-page-rate2000': { throughputPerS: 40 },
        'history-deep-page-c16': { latency: lat(541, 681) },
      }),
      [track[1]!, { id: 'end', mem: { 'bank-service': 308, 'api-gateway': 200 } }],
    );
    expect(rows.map((r) => [r.met, r.gap])).toEqual([
      [false, 'short by 30 points (165/s)'],
      [false, '1797.7 ms over'],
      [false, 'p50 1238 ms over; p99 1476 ms over; 1 probes never visible'],
      [false, 'p99 547.3 ms over; 1,960 reads/s short'],
      [false, '631.0 ms over'],
      [false, 'bank-service grew 128 MiB > 100'],
    ]);
  });

  it('meets the reads/s goal by the open-loop phase when 16 closed-loop readers cannot offer 2,000/s', () => {
    const row = evaluateIssue14Targets(fullRun({ 'history-first-page-c16': { throughputPerS: 1_200 } }), track)[3]!;
    expect(row.met).toBe(true);
  });

  it('is n/a, not met, when the numbers hold but the setup is not the issue\'s (a quick run)', () => {
    const run = fullRun({ 'history-first-page-c16': { concurrency: 8 } });
    run.history = { rows: 200_000, deepPages: 25 };
    const rows = evaluateIssue14Targets(run, track);
    expect([rows[3]!.met, rows[3]!.gap]).toEqual([null, 'only 200,000 operations stored; 8 readers, not 16']);
    expect([rows[4]!.met, rows[4]!.gap]).toEqual([null, 'page 26, not 251']);
    run.scenarios.find((r) => r.id === 'history-deep-page-c16')!.latency = lat(112, 268.8);
    const over = evaluateIssue14Targets(run, track)[4]!;
    expect([over.met, over.gap]).toEqual([false, '218.8 ms over; page 26, not 251']);
  });

  it('is n/a for rows that did not run, and for a REST peak measured with security off', () => {
    const rows = evaluateIssue14Targets({ scenarios: [] }, []);
    expect(rows.every((r) => r.met === null && r.measured === 'not measured')).toBe(true);
    expect(evaluateIssue14Targets(fullRun(), track, { security: 'authentication on, mTLS off' })[0]!.met).toBeNull();
  });

  it('ignores variant rows (a restarted bank with other settings)', () => {
    const run = fullRun();
    run.scenarios.push({ id: 'rest-uniform-c128-variant', variant: 'X=1', concurrency: 128, throughputPerS: 9_999 });
    expect(evaluateIssue14Targets(run, track)[0]!.measured).toContain('500.0/s');
  });
});

describe('memoryOverRun', () => {
  it('measures our services from the first REST phase to the end, peak included, not PostgreSQL', () => {
    expect(memoryOverRun(track)).toEqual([
      expect.objectContaining({ service: 'bank-service', startMiB: 180, endMiB: 250, growthMiB: 70, peakMiB: 250, met: true }),
      expect.objectContaining({ service: 'api-gateway', growthMiB: 10, met: true }),
    ]);
    expect(memoryOverRun([track[0]!])).toBeUndefined();
  });
});

describe('evaluateHotTargets', () => {
  it('compares the hot sender and recipient with their raw-SQL ceilings', () => {
    const run: RunLike = {
      scenarios: [{ id: 'rest-hot-sender-c64', throughputPerS: 254.2 }, { id: 'rest-hot-recipient-c64', throughputPerS: 400 }],
      ceiling: { tps: 500, hotSender: { throughputPerS: 349.6 }, hotRecipient: { throughputPerS: 378.5 } },
    };
    expect(evaluateHotTargets(run).map((r) => [r.met, r.gap])).toEqual([
      [false, 'short by 95/s'],
      [true, ''],
    ]);
  });
});

describe('cpuPerTransferSummary', () => {
  it('sums every process at the peak and splits the growth into TLS and token checks', () => {
    const run = fullRun({ 'rest-uniform-c128': { ops: { 'api-gateway': { tokenCache: { hits: 99, misses: 1, hitRate: 0.99 } }, 'bank-service': { tokenCache: { hits: 0, misses: 0, hitRate: null } } } } });
    run.tokenCost = { cachedCpuUs: 10, uncachedCpuUs: 400 };
    run.scenarios.push({ id: 'mtls-on-rest', cpuMsPerRequest: { a: 4 } }, { id: 'mtls-off-rest', cpuMsPerRequest: { a: 3.5 } });
    run.mtlsCompare = { on: { restPeak: 'mtls-on-rest' }, off: { restPeak: 'mtls-off-rest' } };
    const summary = cpuPerTransferSummary(run)!;
    expect(summary).toMatchObject({ peakId: 'rest-uniform-c128', totalMs: 3.3, halfPeakTotalMs: 5, growthMs: 0.4, tlsMs: 0.5, tokenChecksMs: 0.414, tokenMissesAssumedFor: ['bank-service'] });
    const lines = cpuSummaryLines(summary, run.tokenCost);
    expect(lines[0]!).toContain('3.30 ms');
    expect(lines[1]!).toContain('TLS ≈ 0.500 ms');
    expect(lines[1]!).toContain('token checks ≈ 0.414 ms');
    expect(lines[1]!).toContain('api-gateway 99.0 %, bank-service not reported');
  });

  it('is undefined without a REST peak with CPU figures', () => {
    expect(cpuPerTransferSummary({ scenarios: [] })).toBeUndefined();
  });
});
