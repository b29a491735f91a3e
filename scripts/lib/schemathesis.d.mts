// Types for scripts/lib/schemathesis.mjs, so TypeScript tests can use it.
export declare const SCHEMATHESIS_VERSION: string;
export declare function ensureSchemathesis(options?: { cacheDir?: string; python?: string }): string;
