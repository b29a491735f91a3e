// Types for scripts/chaos/faults.mjs (the schedule is unit-tested in test/chaos/).
export interface ScheduledFault {
  name: string;
  kind: string;
  arg?: unknown;
  affects: string;
}
export declare const AFFECTS: Record<string, string>;
export declare const ROTATED_SERVICES: string[];
export declare function readsRelayLeader(opsPort: number): Promise<boolean | undefined>;
export declare function scheduleRound(
  serviceKeys: string[],
  options: {
    pauseMs: number;
    tracks?: number;
    doubles?: boolean;
    rotate?: string[] | false;
    /** service key -> its instance keys (replicas, issue 13) */
    instances?: Record<string, string[]>;
    /** which round (a different replica of each kind is killed each round) */
    round?: number;
  },
): ScheduledFault[][];
