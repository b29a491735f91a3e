// Types for scripts/lib/valkey.mjs.
export declare function findValkeyServer(options?: { install?: boolean; log?: (line: string) => void }): string | undefined;
export declare function startValkey(options?: { log?: (line: string) => void }): Promise<{
  url: string;
  port: number;
  binary: string;
  stop(): Promise<void>;
}>;
