// Types for scripts/lib/system.mjs (the one description of the system), so
// TypeScript tests (e2e harness, chaos suite) can launch through it.
import type { ChildProcess } from 'node:child_process';
import type { Pki } from './pki.mjs';

export type PortName =
  | 'gatewayHttp'
  | 'gatewayOps'
  | 'bankGrpc'
  | 'cardAdapterGrpc'
  | 'analyticsGrpc'
  | 'paymentGatewayMockHttp'
  | 'paymentGatewayMockOps'
  | 'bankOps'
  | 'cardAdapterOps'
  | 'analyticsOps'
  | 'identityHttp'
  | 'identityOps'
  | 'postgres'
  | 'kafka'
  | 'kafkaController';
export type Ports = Record<PortName, number>;
export type ServiceKey = 'identity' | 'bank' | 'paymentGatewayMock' | 'analytics' | 'cardAdapter' | 'gateway';

/** `aud` of access tokens (IDENTITY_AUDIENCE / AUTH_AUDIENCE). */
export declare const AUTH_AUDIENCE: string;
/** The identity-service serves HTTPS (issuer https://...). */
export declare const IDENTITY_HTTPS: boolean;
/** The payment gateway mock requires mutual TLS (URL https://...). */
export declare const PAYMENT_GATEWAY_MOCK_HTTPS: boolean;
export declare const DEFAULT_PORTS: Readonly<Ports>;
export declare const PORT_LABELS: Readonly<Record<PortName, string>>;
export declare const SERVICE_KEYS: ServiceKey[];
export declare const SERVICE_NAMES: Readonly<Record<ServiceKey, string>>;
export declare function portsFor(options?: { base?: number }): Ports;
export declare function freePorts(): Promise<Ports>;
export declare function entryOf(name: string): string;
export declare function defaultTopics(): Promise<Topics>;
export declare function waitReady(url: string, options?: { timeoutMs?: number; intervalMs?: number; isDead?: () => boolean }): Promise<void>;

export interface Topics {
  operations: string;
  dlq: string;
}

export interface InfraEnv {
  DATABASE_URL: string;
  KAFKA_BROKERS: string;
  CLICKHOUSE_URL?: string;
}

export interface DescribeOptions {
  infraEnv: InfraEnv;
  ports: Ports;
  /** Service keys to include (default: all; optional ones when their workspace exists). */
  include?: ServiceKey[];
  topics?: Topics;
  kafkaGroupId?: string;
  chdbPath?: string;
  /** Bound of one ClickHouse/chDB request in the analytics-service (bench: long first FINAL reads). */
  clickhouseRequestTimeoutMs?: number;
  /** IDENTITY_SEED_DEV_USERS (alice, bob, support, admin, dev-back-office); default true (local runs only). */
  devUsers?: boolean;
  /** The development PKI whose certificates the services get (TLS_* env); default: ensurePki on .data/pki. */
  pki?: Pki;
  /** The card adapter's key at the payment gateway mock (both sides); default: the services' development default. */
  paymentGatewayApiKey?: string;
  /** Set for every service (NODE_ENV, LOG_LEVEL). */
  commonEnv?: Record<string, string>;
  /** Export every service's spans to this OTLP/HTTP endpoint (OTEL_* env, service name per service); env: more OTEL_* (sampler, OTEL_BSP_*). */
  otel?: OtelOptions;
  /** Extra env per service. */
  env?: Partial<Record<ServiceKey, Record<string, string>>>;
}

export interface ServiceSpec {
  key: ServiceKey;
  name: string;
  entry: string;
  dependsOn: ServiceKey[];
  /** Role -> port: grpc/http and ops (readiness, metrics). */
  ports: Record<string, number>;
  readyUrl: string;
  env: Record<string, string>;
}

export interface SystemDescription {
  ports: Ports;
  topics: Topics;
  services: ServiceSpec[];
  baseUrl: string;
  bankGrpcAddress: string;
  /** The identity-service's URL: `iss` of access tokens and base of discovery and /auth/token. */
  issuer: string;
  audience: string;
  /** The certificates the services were given (a test client plays a service with them). */
  pki: Pki;
}

export interface OtelOptions {
  endpoint: string;
  /** OTEL_EXPORTER_OTLP_PROTOCOL (default http/protobuf). */
  protocol?: 'http/protobuf' | 'http/json';
  env?: Record<string, string>;
}
export declare function otelEnvFor(serviceName: string, otel: OtelOptions | undefined): Record<string, string>;

export declare function describeSystem(options: DescribeOptions): Promise<SystemDescription>;

export interface RestartPolicy {
  delayMsMin: number;
  delayMsMax: number;
  crashesMax: number;
  windowMs: number;
}

export interface SystemEvent {
  type: 'ready' | 'crashed' | 'restarting' | 'not-ready' | 'give-up' | 'exited' | 'stopped';
  key: ServiceKey;
  name: string;
  pid?: number;
  exit?: number | string | null;
  delayMs?: number;
  crashesInWindow?: number;
  windowMs?: number;
  restarted?: boolean;
  error?: string;
}

export interface RunOptions {
  /** Output of each service appended to <logDir>/<name>.log instead of piped. */
  logDir?: string;
  /** Piped output, line by line (also kept in handle.logs, last 2,000 lines). */
  onLine?: (key: ServiceKey, line: string) => void;
  nodeArgs?: (key: ServiceKey) => string[];
  readyTimeoutMs?: number;
  /** Supervise: restart a crashed service with backoff, give up when it keeps crashing. */
  restartPolicy?: RestartPolicy | null;
  onEvent?: (event: SystemEvent) => void;
}

export interface ServiceHandle extends ServiceSpec {
  /** Current pid while running. */
  readonly pid: number | undefined;
  /** The latest process (set once started). */
  readonly child: ChildProcess;
  readonly logs: string[];
  readonly logPath: string | undefined;
  readonly startedAtMs: number | undefined;
  /** Spawns and waits until ready; resolves with the pid. */
  start(): Promise<number | undefined>;
  waitReady(): Promise<void>;
  /** Deliberate stop (never restarted): SIGTERM, SIGKILL after graceMs. */
  stop(options?: { graceMs?: number }): Promise<number | string | null | undefined>;
  /** SIGKILL (a crash; a supervised system restarts it). */
  kill(): Promise<number | string | null | undefined>;
  /** Stop, merge extraEnv, start, wait ready; resolves with the new pid. */
  restart(extraEnv?: Record<string, string>): Promise<number | undefined>;
}

export interface RunningSystem {
  description: SystemDescription;
  services: Partial<Record<ServiceKey, ServiceHandle>>;
  ports: Ports;
  baseUrl: string;
  start(key: ServiceKey): Promise<number | undefined>;
  startAll(): Promise<void>;
  restart(key: ServiceKey, extraEnv?: Record<string, string>): Promise<number | undefined>;
  kill(key: ServiceKey): Promise<number | string | null | undefined>;
  /** Dependants first, layer by layer, within timeoutMs overall. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export declare function createSystem(description: SystemDescription, options?: RunOptions): RunningSystem;
export declare function startSystem(options: DescribeOptions & RunOptions): Promise<RunningSystem>;
