// The bench's scale run (issue 14, `npm run bench -- --scale`), pure parts:
// metric scraping, the history size that fits the budget and disk, CPU per
// operation, the verdicts, the report and the chart spec.
import { describe, expect, it } from 'vitest';
import * as vegaLite from 'vega-lite';
import { cpuMsPer, historyRowsThatFit, promSum, scaleChartSpec, scaleMarkdown, scaleVerdicts, shortCount, type ScaleResult } from '../../bench/lib/scale-report.mjs';

const METRICS = `# HELP bank_outbox_events_published_total Events published
# TYPE bank_outbox_events_published_total counter
bank_outbox_events_published_total{topic="wallet.operations"} 120
bank_outbox_events_published_total{topic="wallet.operations.dlq"} 3
bank_outbox_events_published_total_created 1764662400
analytics_events_inserted_total 4.5e3
`;

describe('promSum', () => {
  it('sums every label set of the metric and ignores comments and longer names', () => {
    expect(promSum(METRICS, 'bank_outbox_events_published_total')).toBe(123);
    expect(promSum(METRICS, 'analytics_events_inserted_total')).toBe(4_500);
  });

  it('is undefined when the metric is absent', () => {
    expect(promSum(METRICS, 'analytics_events_consumed_total')).toBeUndefined();
  });
});

describe('historyRowsThatFit', () => {
  const plan = { candidates: [20_000_000, 100_000_000, 50_000_000], baseRows: 10_000_000, bytesPerRow: 40, freeBytes: 70 * 2 ** 30 };

  it('takes the largest size when it loads within the time left', () => {
    expect(historyRowsThatFit({ ...plan, rowsPerS: 250_000, timeLeftS: 900 })).toEqual({ rows: 100_000_000, reason: 'as planned' });
  });

  it('falls back to the largest that loads in time and says why', () => {
    const choice = historyRowsThatFit({ ...plan, rowsPerS: 150_000, timeLeftS: 400 });
    expect(choice.rows).toBe(50_000_000);
    expect(choice.reason).toMatch(/100 M: ~667 s to load, 400 s of the budget left/);
  });

  it('refuses a size that would take more than half the free disk', () => {
    const choice = historyRowsThatFit({ ...plan, rowsPerS: 1e6, timeLeftS: 10_000, freeBytes: 3 * 2 ** 30 });
    expect(choice.rows).toBe(20_000_000);
    expect(choice.reason).toMatch(/more than 50 % of 3\.0 GiB free/);
  });

  it('loads nothing when no size above the base level fits', () => {
    expect(historyRowsThatFit({ ...plan, rowsPerS: 10_000, timeLeftS: 60 }).rows).toBe(0);
    expect(historyRowsThatFit({ ...plan, baseRows: 100_000_000, rowsPerS: 1e6, timeLeftS: 10_000 })).toEqual({ rows: 0, reason: 'no size above the base level' });
  });
});

describe('cpuMsPer', () => {
  it('is each group\'s CPU milliseconds per unit', () => {
    expect(cpuMsPer({ groups: { 'bank-service': { cpuS: 1.5 }, kafka: { cpuS: 0.25 } } }, 1_000)).toEqual({ 'bank-service': 1.5, kafka: 0.25 });
  });

  it('is undefined without a segment or without units', () => {
    expect(cpuMsPer(undefined, 10)).toBeUndefined();
    expect(cpuMsPer({ groups: { kafka: { cpuS: 1 } } }, 0)).toBeUndefined();
  });
});

function sample(overrides: { largeThroughput?: number; largeCpu?: number; p99Ms?: number; lagP99Ms?: number } = {}): ScaleResult {
  const level = (label: string, kind: 'base' | 'large' | 'subset', stored: number, throughputPerS: number, cpu: number) => ({
    label,
    kind,
    accountsStored: stored,
    accountsUsed: kind === 'large' ? stored : 10_000,
    throughputPerS,
    p50Ms: 20,
    p99Ms: 80,
    errors: 0,
    cpuMsPerTransfer: { 'api-gateway': cpu / 2, 'bank-service': cpu / 2 },
  });
  return {
    meta: { startedAt: '2026-12-02T09:00:00.000Z', mode: 'quick', budgetS: 300, wallS: 250, loadAvgStart: [3, 2, 1], notes: ['a note'] },
    accounts: {
      concurrency: 64,
      loadMs: 4_000,
      addedAccounts: 990_000,
      seedS: 40,
      levels: [
        level('10 k', 'base', 10_000, 400, 4),
        level('1 M #1', 'large', 1_000_000, overrides.largeThroughput ?? 390, overrides.largeCpu ?? 4.2),
        level('10 k of 1 M', 'subset', 1_000_000, 395, 4.1),
        level('1 M #2', 'large', 1_000_000, overrides.largeThroughput ?? 370, overrides.largeCpu ?? 4.2),
      ],
    },
    history: {
      readers: 16,
      note: 'Large level: 100,000,000 operations',
      levels: [
        { rowsStored: 10_000_000, parts: 7, loadS: 40, readsPerS: 900, p50Ms: 8, p99Ms: 15, cpuMsPerRead: { 'analytics-service': 0.9 } },
        { rowsStored: 100_000_000, parts: 7, loadS: 400, readsPerS: 800, p50Ms: 9, p99Ms: overrides.p99Ms ?? 19 },
      ],
    },
    partitions: {
      concurrency: 64,
      levels: [1, 3, 12].map((partitions) => ({ partitions, transfersPerS: 400, publishedPerS: 800, insertedPerS: 800, lagP50Ms: 60, lagP99Ms: partitions === 12 ? (overrides.lagP99Ms ?? 300) : 300, lagSeen: 40, lagNotSeen: 0 })),
    },
  };
}

describe('scaleVerdicts', () => {
  it('meets the accounts question when throughput and CPU per transfer move within ±10 % (large rounds averaged)', () => {
    const [accounts, history, partitions] = scaleVerdicts(sample());
    expect(accounts).toMatchObject({ met: true, measured: "throughput −5.0 %, CPU ms per transfer (all processes) +5.0 % (the large level's two rounds: throughput −5.1 %)" });
    expect(accounts?.question).toMatch(/10 k vs 1 M accounts/);
    expect(history?.met).toBe(true);
    expect(partitions?.met).toBe(true);
  });

  it('fails the accounts question when either figure moves more than 10 %', () => {
    expect(scaleVerdicts(sample({ largeThroughput: 350 }))[0]?.met).toBe(false);
    expect(scaleVerdicts(sample({ largeCpu: 4.5 }))[0]?.met).toBe(false);
  });

  it('fails the history and lag questions when one level misses its goal', () => {
    expect(scaleVerdicts(sample({ p99Ms: 21 }))[1]?.met).toBe(false);
    expect(scaleVerdicts(sample({ lagP99Ms: 501 }))[2]?.met).toBe(false);
  });
});

describe('scaleMarkdown and scaleChartSpec', () => {
  it('writes the verdicts, one table per comparison, the notes and the chart', () => {
    const md = scaleMarkdown(sample());
    expect(md).toContain('## Verdicts (issue 14)');
    expect(md).toContain('| 1 M #2 | 1,000,000 | 1,000,000 | 370.0 |');
    expect(md).toContain('| 100,000,000 | 7 | 400.0 | 800 |');
    expect(md).toMatch(/\| 12 \| 400\.0 \| 800 \| 800 \| 60 \| 300 \|/);
    expect(md).toContain('> a note');
    expect(md).toContain('![cost as the work grows](scale.png)');
  });

  it('is a valid Vega-Lite spec with six panels fed by the measured rows', () => {
    const spec = scaleChartSpec(sample()) as { concat: { data: { values: unknown[] } }[] };
    expect(spec.concat).toHaveLength(6);
    expect(spec.concat.map((p) => p.data.values.length)).toEqual([4, 8, 4, 2, 6, 9]);
    expect(() => vegaLite.compile(spec as never)).not.toThrow();
  });

  it('labels counts briefly', () => {
    expect([shortCount(10_000), shortCount(1_000_000), shortCount(2_500_000), shortCount(950)]).toEqual(['10 k', '1 M', '2.5 M', '950']);
  });
});
