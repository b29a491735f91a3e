// Types for bench/lib/soak.mjs (evaluateSoak is unit-tested in test/bench/).
import type { MemoryBound } from './memory-bounds.mjs';
export declare const SOAK_BOUNDS_MIB: Readonly<Record<string, MemoryBound>>;
export declare function evaluateSoak(
  samples: { atMs: number; rssMiB: Record<string, number> }[],
  warmupEndMs: number,
): {
  service: string;
  rssAtWarmupEndMiB: number | undefined;
  rssEndMiB: number | undefined;
  rssPeakMiB: number;
  growthAfterWarmupMiB: number | undefined;
  bound: MemoryBound;
  met: boolean;
  why: string;
}[];
export declare function runSoak(options: { minutes?: number; ratePerS?: number; accounts?: number; quick?: boolean; out?: string; keep?: boolean }): Promise<number>;
