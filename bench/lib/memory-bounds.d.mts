// Types for bench/lib/memory-bounds.mjs (unit-tested in test/bench/).
export interface MemoryBound {
  growthMiBMax: number;
  peakMiBMax: number;
  source: string;
}
export declare const MEMORY_BOUNDS_MIB: Readonly<Record<string, MemoryBound>>;
export declare const DEFAULT_MEMORY_BOUND_MIB: Readonly<MemoryBound>;
export declare function memoryBoundFor(name: string): MemoryBound;
export declare function isBoundedService(name: string): boolean;
export declare function checkMemory(
  name: string,
  reading: { startMiB: number | undefined; endMiB: number | undefined; peakMiB: number },
): { growthMiB: number | undefined; peakMiB: number; bound: MemoryBound; met: boolean; why: string };
