// Types for scripts/lib/promtool.mjs.
export declare function findPromtool(): string | undefined;
export declare function ensurePromtool(options?: { install?: boolean; log?: (line: string) => void }): string;
export declare function ensureAmtool(options?: { install?: boolean; log?: (line: string) => void }): string;
export declare function promtoolVersion(binary: string): string;
export declare function runPromtool(binary: string, args: string[], options?: { cwd?: string; timeoutMs?: number }): { status: number | null; output: string };
