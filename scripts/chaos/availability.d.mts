// Types for scripts/chaos/availability.mjs, so its unit tests are type-checked.
export interface ClientAnswer {
  kind: string;
  status?: number | string;
  answeredAtMs: number;
}
export interface FaultWindow {
  name: string;
  affects: string;
  startedAtMs: number;
  healedAtMs?: number;
}
export declare const CLIENT_KINDS: readonly string[];
export declare const INFRA_FAULT: RegExp;
export declare const GAP_MS_TARGET: number;
export declare function isClientError(answer: { status?: number | string }): boolean;
export declare function countClientErrors(answers: { kind: string; status?: number | string; code?: string }[]): {
  total: number;
  answers: number;
  byKindStatus: Record<string, number>;
};
export declare function longestGap(
  answers: ClientAnswer[],
  window: { fromMs: number; toMs: number; kinds?: readonly string[] },
): { gapMs: number; fromMs: number; toMs: number };
export declare function faultsDuring(faults: FaultWindow[], window: { fromMs: number; toMs: number }): string[];
export declare function gapsOfFaults<F extends FaultWindow>(
  faults: F[],
  answers: ClientAnswer[],
): (F & { gapMs?: number; gapOverlaps?: string[] })[];
export declare const SPARSE_KINDS: readonly string[];
export declare function replicaGap(
  faults: { name: string; affects: string; gapMs?: number; gapOverlaps?: string[] }[],
  options?: { singles?: string[] },
): {
  gapMs: number;
  fault?: string;
  measured: number;
  excluded: string[];
  sparse: string[];
};
