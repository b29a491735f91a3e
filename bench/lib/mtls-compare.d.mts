// Types for bench/lib/mtls-compare.mjs (its pure helpers are unit-tested in test/bench/).
export declare const PLAINTEXT_SERVICE_KEYS: readonly string[];
export declare const PLAINTEXT_ENV: Readonly<Record<string, string>>;
export declare const MODERATE_RATE_PER_S_MIN: number;
export declare const MODERATE_RATE_PER_S_MAX: number;
export declare function moderateRatePerS(peakPerS: number | undefined): number;
export declare function plaintextEnvFor(handle: { env?: Record<string, string> }, pki?: { caFile: string }): Record<string, string>;
export interface CompareRow {
  id: string;
  throughputPerS?: number;
  latency?: { p50Ms?: number; p99Ms?: number };
  cpuMsPerRequest?: Record<string, number>;
  loadAvg: { before: number; after: number };
}
export interface MtlsCompare {
  concurrency: number;
  ratePerS?: number;
  on: Record<string, string>;
  off: Record<string, string>;
  restartS: number;
  services: string[];
}
export declare function mtlsTable(run: { mtlsCompare?: MtlsCompare; scenarios: CompareRow[] }): string[];
export declare function mtlsSection(run: { mtlsCompare?: MtlsCompare; scenarios: CompareRow[] }): string[];
export declare function runMtlsCompare(options: Record<string, unknown>): Promise<MtlsCompare>;
