// Types for scripts/check-deploy/postgres-exporter.mjs.
export declare function postgresExporterVersion(): string;
export declare function postgresExporterPath(cacheDir?: string): string;
export declare function postgresExporterUnavailableReason(cacheDir?: string): string | null;
export declare function ensurePostgresExporter(options?: { cacheDir?: string; log?: (line: string) => void }): string;
