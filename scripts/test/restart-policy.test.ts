import { describe, expect, it } from 'vitest';
import { decideRestart, recentCrashes, RESTART_POLICY } from '../lib/restart-policy.mjs';

describe('restart policy of npm start', () => {
  const policy = { delayMsMin: 250, delayMsMax: 8_000, crashesMax: 5, windowMs: 60_000 };

  it('restarts a first crash after the minimum delay and doubles the delay per crash in the window', () => {
    expect(decideRestart([1_000], 1_000, policy)).toEqual({ action: 'restart', delayMs: 250, crashesInWindow: 1 });
    expect(decideRestart([1_000, 2_000], 2_000, policy)).toMatchObject({ action: 'restart', delayMs: 500 });
    expect(decideRestart([1_000, 2_000, 3_000, 4_000], 4_000, policy)).toMatchObject({ action: 'restart', delayMs: 2_000 });
  });

  it('never waits longer than the maximum delay', () => {
    const wide = { ...policy, crashesMax: 100 };
    const crashes = Array.from({ length: 20 }, (_, i) => i * 100);
    expect(decideRestart(crashes, 2_000, wide)).toMatchObject({ action: 'restart', delayMs: 8_000 });
  });

  it('gives up when a service crashes five times within a minute', () => {
    expect(decideRestart([0, 10_000, 20_000, 30_000, 40_000], 40_000, policy)).toEqual({ action: 'give-up', crashesInWindow: 5 });
  });

  it('forgets crashes older than the window, so a service that crashes rarely is always restarted', () => {
    const crashes = [0, 70_000, 140_000, 210_000, 280_000];
    expect(decideRestart(crashes, 280_000, policy)).toEqual({ action: 'restart', delayMs: 250, crashesInWindow: 1 });
    expect(recentCrashes(crashes, 280_000, policy)).toEqual([280_000]);
  });

  it('keeps at most crashesMax crash times', () => {
    expect(recentCrashes([1, 2, 3, 4, 5, 6, 7], 10, RESTART_POLICY)).toHaveLength(RESTART_POLICY.crashesMax);
  });
});
