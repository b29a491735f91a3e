// Types for scripts/lib/haproxy.mjs.
import type { LoadBalancerSpec } from './system.mjs';

export declare const HAPROXY_LIMITS: Readonly<{
  connectionsMax: number;
  checkIntervalMs: number;
  checkFallCount: number;
  checkRiseCount: number;
  checkTimeoutMs: number;
  retriesMax: number;
  connectTimeoutMs: number;
  serverTimeoutMs: number;
  clientTimeoutMs: number;
  httpRequestTimeoutMs: number;
  queueTimeoutMs: number;
}>;
/** PATH, HAPROXY_BIN, /usr/sbin; apt-get install haproxy as root on Debian/Ubuntu when missing. */
export declare function findHaproxy(options?: { install?: boolean; log?: (line: string) => void }): string | undefined;
/** The configuration text (pure). */
export declare function haproxyConfig(spec: LoadBalancerSpec): string;
/** Writes and checks (haproxy -c) the configuration in dir; the command to run it in the foreground. */
export declare function haproxyLaunch(
  spec: LoadBalancerSpec,
  options: { dir: string; binary?: string; log?: (line: string) => void },
): { command: string; args: string[]; configPath: string };
/** `{ 'gateway/gateway.2': 'UP' | 'DOWN' | ... }` from the stats CSV. */
export declare function serverStates(statsUrl: string, options?: { timeoutMs?: number }): Promise<Record<string, string>>;
export declare function waitServersUp(statsUrl: string, servers: string[], options?: { timeoutMs?: number }): Promise<void>;
export interface StartedHaproxy {
  pid: number | undefined;
  configPath: string;
  statsUrl: string;
  metricsUrl: string;
  exited: Promise<number | string | null>;
  stop(): Promise<void>;
  kill(): Promise<void>;
}
export declare function startHaproxy(spec: LoadBalancerSpec, options: { dir: string; log?: (line: string) => void }): Promise<StartedHaproxy>;
