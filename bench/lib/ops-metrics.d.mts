// Types for bench/lib/ops-metrics.mjs (its pure parts are unit-tested in test/bench/).
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface EventLoopDelay {
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  meanMs?: number;
  samples?: number;
  source?: string;
}
export interface Bucket {
  le: number;
  count: number;
}
export interface Scrape {
  samples?: PromSample[];
  error?: string;
}
export interface ServicePhase {
  eventLoop?: EventLoopDelay;
  tokenCache?: { hits: number; misses: number; hitRate: number | null };
  error?: string;
}
export declare function parsePrometheus(text: string): PromSample[];
export declare function sumOf(samples: PromSample[], name: string): number | undefined;
export declare function eventLoopDelay(samples: PromSample[]): EventLoopDelay | undefined;
export declare const EVENT_LOOP_RESOLUTION_S: number;
export declare function histogramBuckets(samples: PromSample[], name: string): Bucket[];
export declare function bucketsDelta(start: Bucket[] | undefined, end: Bucket[]): Bucket[];
export declare function histogramQuantile(buckets: Bucket[], q: number): number | undefined;
export declare function phaseEventLoop(startSamples: PromSample[] | undefined, endSamples: PromSample[]): EventLoopDelay | undefined;
export declare function tokenCacheCounters(samples: PromSample[]): { hits: number; misses: number } | undefined;
export declare function counterDelta(before: number | undefined, after: number | undefined): number | undefined;
export declare function phaseOfService(start: Scrape | undefined, end: Scrape | undefined): ServicePhase;
export declare function phaseOps(start: Record<string, Scrape> | undefined, end: Record<string, Scrape> | undefined): Record<string, ServicePhase>;
export declare function metricsUrlOf(handle: { readyUrl?: string; metricsUrl?: string }): string | undefined;
export declare function createOpsScraper(handles: () => { instanceName?: string; name: string; readyUrl?: string; metricsUrl?: string; pid?: number }[]): {
  scrape(): Promise<Record<string, Scrape>>;
};
export declare function eventLoopTable(rows: { id: string; ops?: Record<string, ServicePhase> }[]): string[];
