// Types for scripts/check-deploy/helm.mjs.
export declare const HELM_VERSION: string;
export declare const chartDir: string;
export declare function helmPath(cacheDir?: string): string;
export declare function helmUnavailableReason(cacheDir?: string): string | null;
export declare function ensureHelm(options?: { cacheDir?: string; log?: (line: string) => void }): string;
export declare function runHelm(binary: string, args: string[]): { status: number | null; stdout: string; stderr: string };
