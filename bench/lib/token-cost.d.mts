// Types for bench/lib/token-cost.mjs (its pure parts are unit-tested in test/bench/).
export interface TokenCost {
  cachedCpuUs: number;
  uncachedCpuUs: number;
  cachedPerS?: number;
  uncachedPerS?: number;
  iterationsCached?: number;
  iterationsUncached?: number;
  issuer?: string;
}
export declare const VERIFYING_SERVICES: readonly string[];
export declare function tokenIssuer(token: string): { issuer: string; audience: string };
export declare function verifyCpuUs(cost: { cachedCpuUs: number; uncachedCpuUs: number }, hitRate: number): number;
export declare function tokenChecksPerTransfer(
  cost: { cachedCpuUs: number; uncachedCpuUs: number },
  hitRates: Record<string, number | null | undefined> | undefined,
  services?: readonly string[],
): { cpuMs: number; missesAssumedFor: string[] };
export declare function measureTokenCost(options: { token: string; caFile?: string; iterationsCached?: number; iterationsUncached?: number }): Promise<TokenCost>;
