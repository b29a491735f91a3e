// Types for scripts/lib/restart-policy.mjs.
import type { RestartPolicy } from './system.mjs';

export declare const RESTART_POLICY: Readonly<RestartPolicy>;
export declare function decideRestart(
  crashTimesMs: number[],
  nowMs: number,
  policy?: RestartPolicy,
): { action: 'restart'; delayMs: number; crashesInWindow: number } | { action: 'give-up'; crashesInWindow: number };
export declare function recentCrashes(crashTimesMs: number[], nowMs: number, policy?: RestartPolicy): number[];
