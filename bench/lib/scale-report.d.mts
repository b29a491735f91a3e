// Types for bench/lib/scale-report.mjs (its pure helpers are unit-tested in test/bench/).
export declare const ACCOUNTS_CHANGE_RATIO_MAX: number;
export declare const HISTORY_P99_MS_MAX: number;
export declare const LAG_P50_MS_MAX: number;
export declare const LAG_P99_MS_MAX: number;
export declare function shortCount(n: number): string;
export declare function promSum(text: string, name: string): number | undefined;
export declare function historyRowsThatFit(options: {
  candidates: number[];
  baseRows: number;
  rowsPerS: number;
  timeLeftS: number;
  bytesPerRow: number;
  freeBytes: number;
  diskShareMax?: number;
}): { rows: number; reason: string };
export interface SegmentLike {
  name?: string;
  groups: Record<string, { cpuS: number }>;
}
export declare function cpuMsPer(segment: SegmentLike | undefined, units: number | undefined): Record<string, number> | undefined;
export interface AccountsLevel {
  id?: string;
  label: string;
  kind: 'base' | 'large' | 'subset';
  accountsStored: number;
  accountsUsed: number;
  throughputPerS: number;
  p50Ms?: number;
  p99Ms?: number;
  errors?: number;
  cpuMsPerTransfer?: Record<string, number>;
}
export interface HistoryLevel {
  rowsStored: number;
  parts?: number;
  loadS?: number;
  readsPerS: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  errors?: number;
  cpuMsPerRead?: Record<string, number>;
}
export interface PartitionsLevel {
  partitions: number;
  transfersPerS: number;
  publishedPerS?: number;
  insertedPerS?: number;
  lagP50Ms?: number;
  lagP99Ms?: number;
  lagMaxMs?: number;
  lagSeen?: number;
  lagNotSeen?: number;
  cpuMsPerTransfer?: Record<string, number>;
  cpuMsPerEvent?: Record<string, number>;
}
export interface ScaleResult {
  meta: {
    startedAt: string;
    mode: string;
    budgetS: number;
    wallS?: number;
    startupS?: number;
    loadAvgStart?: number[];
    loadAvgEnd?: number[];
    notes?: string[];
    [key: string]: unknown;
  };
  accounts?: { concurrency: number; loadMs: number; addedAccounts: number; seedS?: number; levels: AccountsLevel[] };
  history?: { readers: number; note?: string; levels: HistoryLevel[] };
  partitions?: { concurrency: number; lagMs?: number; levels: PartitionsLevel[] };
}
export interface Verdict {
  question: string;
  measured: string;
  met: boolean;
}
export declare function scaleVerdicts(result: ScaleResult): Verdict[];
export declare function scaleMarkdown(result: ScaleResult): string;
export declare function scaleChartSpec(result: ScaleResult): Record<string, unknown>;
export declare function renderScaleChart(result: ScaleResult, dir: string): Promise<void>;
