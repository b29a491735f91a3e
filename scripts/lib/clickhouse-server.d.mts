// Types for scripts/lib/clickhouse-server.mjs.
export interface ClickHouseServer {
  /** http://127.0.0.1:<port>, for CLICKHOUSE_URL. */
  url: string;
  port: number;
  pid: number | undefined;
  /** SIGTERM, bounded; resolves once the process is gone. */
  stop(): Promise<void>;
  /** SIGKILL at once (a crash). */
  kill(): Promise<void>;
}
export declare function startClickHouseServer(options: {
  dataDir: string;
  /** 0 (default) = a free port. */
  port?: number;
  log?: (line: string) => void;
}): Promise<ClickHouseServer>;
