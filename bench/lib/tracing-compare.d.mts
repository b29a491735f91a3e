// Types for bench/lib/tracing-compare.mjs (its pure helpers are unit-tested in test/bench/).
export interface TracingMode {
  key: 'on100' | 'on10' | 'off';
  label: string;
  /** OTEL_TRACES_SAMPLER_ARG of parentbased_traceidratio; null: no endpoint. */
  ratio: string | null;
}
export declare const TRACING_MODES: readonly TracingMode[];
export declare const TRACING_SERVICE_KEYS: readonly string[];
export declare function tracingEnvFor(serviceName: string, mode: TracingMode, endpoint: string): Record<string, string>;
export declare function startReceiverProcess(options?: { startTimeoutMs?: number }): Promise<{
  url: string;
  pid: number;
  stats(): Promise<{ received: number; rejected: number }>;
  stop(): Promise<void>;
}>;
export interface TracingCompareRow {
  id: string;
  ok?: number;
  throughputPerS?: number;
  latency?: { p50Ms?: number | null; p99Ms?: number | null };
  cpuMsPerRequest?: Record<string, number>;
  spansReceived?: number;
}
export interface TracingCompare {
  concurrency: number;
  ratePerS?: number;
  services: string[];
  receiver?: string;
  modes: Partial<Record<TracingMode['key'], { restPeak?: string; restRate?: string }>>;
  restartS?: Record<string, number>;
}
export declare function runTracingCompare(options: Record<string, unknown>): Promise<TracingCompare>;
export declare function tracingTable(run: { tracingCompare?: TracingCompare; scenarios: TracingCompareRow[] }): string[];
export declare function tracingSection(run: { tracingCompare?: TracingCompare; scenarios: TracingCompareRow[] }): string[];
