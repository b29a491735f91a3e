// Types for scripts/chaos/faults.mjs (the schedule is unit-tested in test/chaos/).
export interface ScheduledFault {
  name: string;
  kind: string;
  arg?: unknown;
  affects: string;
}
export declare const AFFECTS: Record<string, string>;
export declare const ROTATED_SERVICES: string[];
export declare function scheduleRound(
  serviceKeys: string[],
  options: { pauseMs: number; tracks?: number; doubles?: boolean; rotate?: string[] | false },
): ScheduledFault[][];
