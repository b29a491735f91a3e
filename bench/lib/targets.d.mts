// Types for bench/lib/targets.mjs (unit-tested in test/bench/targets.test.ts).
import type { MemoryBound } from './memory-bounds.mjs';
import type { ServicePhase } from './ops-metrics.mjs';
import type { TokenCost } from './token-cost.mjs';

export interface RunRow {
  id: string;
  variant?: string;
  concurrency?: number;
  targetRatePerS?: number;
  throughputPerS?: number;
  errors?: number;
  latency?: { p50Ms?: number | null; p99Ms?: number | null };
  lag?: { p50Ms?: number | null; p99Ms?: number | null; seen?: number; notSeen?: number; pollIntervalMs?: number };
  cpuMsPerRequest?: Record<string, number>;
  ops?: Record<string, ServicePhase>;
}
export interface RunLike {
  scenarios: RunRow[];
  ceiling?: { tps: number; hotSender?: { throughputPerS: number }; hotRecipient?: { throughputPerS: number } };
  history?: { rows?: number; deepPages?: number };
  meta?: { historyRows?: number };
  tokenCost?: TokenCost;
  mtlsCompare?: { on?: { restPeak?: string }; off?: { restPeak?: string } };
}
export interface TargetRow {
  target: string;
  goal: string;
  measured: string;
  met: boolean | null;
  gap: string;
}
export interface MemoryTrackEntry {
  id: string;
  mem: Record<string, number>;
}
export interface CpuSummary {
  peakId: string;
  concurrency?: number;
  totalMs: number;
  perProcess: Record<string, number>;
  halfPeakTotalMs?: number;
  halfPeakRatePerS?: number;
  growthMs: number;
  tlsMs?: number;
  tokenChecksMs?: number;
  tokenMissesAssumedFor: string[];
  hitRates: Record<string, number | null | undefined>;
}
export declare const GOALS: Readonly<Record<string, number>>;
export declare const CPU_MS_PER_TRANSFER_2026_11_25: number;
export declare const CPU_MS_PER_TRANSFER_ISSUE_14: number;
export declare function restPeak(run: RunLike): RunRow | undefined;
export declare function memoryOverRun(
  memoryTrack: MemoryTrackEntry[],
): ({ service: string; startMiB?: number; endMiB?: number; growthMiB: number | undefined; peakMiB: number; bound: MemoryBound; met: boolean; why: string })[] | undefined;
export declare function evaluateIssue14Targets(run: RunLike, memoryTrack: MemoryTrackEntry[], options?: { security?: string }): TargetRow[];
export declare function evaluateHotTargets(run: RunLike): TargetRow[];
export declare function cpuPerTransferSummary(run: RunLike): CpuSummary | undefined;
export declare function cpuSummaryLines(summary: CpuSummary | undefined, tokenCost: TokenCost | undefined): string[];
