// The report's targets section (issue 14): the table's shape and the met column.
import { describe, expect, it } from 'vitest';
import { targetsSection } from '../../bench/lib/report.mjs';

describe('targetsSection', () => {
  it('writes issue 14\'s table with goal, measured, met and short-by columns, then the hot-account table and the token-check line', () => {
    const lines = targetsSection({
      scenarios: [],
      targets: [
        { target: 'history page 251 by cursor', goal: 'p99 ≤ 50 ms', measured: 'page 251: p99 681.0 ms', met: false, gap: '631.0 ms over' },
        { target: 'memory over the run', goal: 'bounded', measured: 'not measured', met: null, gap: 'fewer than two measured phases' },
        { target: 'p99 at half the peak', goal: '≤ 25 ms', measured: 'p99 20 ms', met: true, gap: '' },
      ],
      hotTargets: [{ target: 'hot sender / raw-SQL hot-sender ceiling', goal: '≥ 100 %', measured: '254/s vs 350/s', met: false, gap: 'short by 95/s' }],
      tokenCost: { cachedCpuUs: 6.5, uncachedCpuUs: 473.1, cachedPerS: 27_327, uncachedPerS: 489, iterationsCached: 5_000, iterationsUncached: 500 },
    });
    expect(lines.slice(0, 4)).toEqual(['## Targets (issue 14)', '', '| figure | goal | measured | met? | short by |', '|---|---|---|---|---|']);
    expect(lines[4]).toBe('| history page 251 by cursor | p99 ≤ 50 ms | page 251: p99 681.0 ms | **no** | 631.0 ms over |');
    expect(lines[5]).toBe('| memory over the run | bounded | not measured | n/a | fewer than two measured phases |');
    expect(lines[6]).toBe('| p99 at half the peak | ≤ 25 ms | p99 20 ms | yes |  |');
    expect(lines).toContain('| hot sender / raw-SQL hot-sender ceiling | ≥ 100 % | 254/s vs 350/s | **no** | short by 95/s |');
    expect(lines.find((l) => l.startsWith('Token checks on their own'))).toContain('473.1 µs CPU per verification without the verified-token cache');
  });

  it('says why token checks were not measured', () => {
    expect(targetsSection({ scenarios: [], targets: [], tokenCostError: 'the token names no issuer or audience' })).toContain(
      'Token checks on their own: not measured (the token names no issuer or audience).',
    );
  });
});
