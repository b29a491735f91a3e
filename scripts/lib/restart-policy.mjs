// When a supervised service crashes: restart it after a bounded exponential
// backoff (like a compose `restart: on-failure` policy), or give up when it
// keeps crashing. Pure: no timers, no processes; unit-tested.

export const RESTART_POLICY = Object.freeze({
  /** First restart waits this long; each further crash in the window doubles it... */
  delayMsMin: 250,
  /** ...up to this bound. */
  delayMsMax: 8_000,
  /** This many crashes within windowMs and the supervisor gives up. */
  crashesMax: 5,
  windowMs: 60_000,
});

/**
 * @param {number[]} crashTimesMs times of this service's crashes, the latest included
 * @param {number} nowMs
 * @param {typeof RESTART_POLICY} [policy]
 * @returns {{ action: 'restart', delayMs: number, crashesInWindow: number } | { action: 'give-up', crashesInWindow: number }}
 */
export function decideRestart(crashTimesMs, nowMs, policy = RESTART_POLICY) {
  const crashesInWindow = crashTimesMs.filter((t) => nowMs - t < policy.windowMs).length;
  if (crashesInWindow >= policy.crashesMax) return { action: 'give-up', crashesInWindow };
  const exponent = Math.max(0, crashesInWindow - 1);
  const delayMs = Math.min(policy.delayMsMax, policy.delayMsMin * 2 ** exponent);
  return { action: 'restart', delayMs, crashesInWindow };
}

/** Keeps only the crash times that can still matter (bounded memory for a long run). */
export function recentCrashes(crashTimesMs, nowMs, policy = RESTART_POLICY) {
  return crashTimesMs.filter((t) => nowMs - t < policy.windowMs).slice(-policy.crashesMax);
}
