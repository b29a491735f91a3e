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
  | 'kafkaController'
  /** HAProxy's stats/health/metrics listener (replicated runs). */
  | 'lbStats'
  | 'webhookGrpc'
  | 'webhookOps';
export type Ports = Record<PortName, number>;
export type ServiceKey = 'identity' | 'bank' | 'paymentGatewayMock' | 'analytics' | 'cardAdapter' | 'webhooks' | 'gateway';
/** `bank` (replica 1, the only one by default), `bank.2`, `bank.3`... */
export type InstanceKey = ServiceKey | `${ServiceKey}.${number}`;

export declare const REPLICAS_MIN: number;
export declare const REPLICAS_MAX: number;
/** Our services (every one but the payment gateway mock, which stands for one external provider). */
export declare const REPLICATED_SERVICE_KEYS: readonly ServiceKey[];
/** Instance r listens on each port + stride x (r - 1); the gateway's and identity's HTTP ports (HAProxy's) + stride x r. */
export declare const REPLICA_PORT_STRIDE: number;
/** A replica count (1..8) from a flag or variable; throws a one-line message naming `source`. */
export declare function parseReplicas(value: string | number | undefined, source?: string): number;
export declare function instanceKey(serviceKey: ServiceKey, replica: number): InstanceKey;
/** Ports of every instance (index r - 1) by the stride rule (default and port-base layouts). */
export declare function replicaPortsFor(ports: Ports, replicas: number): Ports[];
/** Free loopback ports for every instance (tests, chaos). */
export declare function freeReplicaPorts(ports: Ports, replicas: number): Promise<Ports[]>;

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
  /** Extra env per service key (every replica), then per instance key (`bank.2`: that replica only). */
  env?: Partial<Record<InstanceKey, Record<string, string>>>;
  /** 1..8 instances of each of our services (default 1: today's system, no load balancer). Analytics with > 1 needs infraEnv.CLICKHOUSE_URL. */
  replicas?: number;
  /** Ports of instance r at index r - 1 (default replicaPortsFor(ports, replicas); tests: freeReplicaPorts). */
  replicaPorts?: Ports[];
  /** Fewer instances of some of our services (1..replicas), e.g. `{ bank: 1 }` with `replicas: 2` (the bench's 1 vs 2 banks behind 2 gateways). */
  serviceReplicas?: Partial<Record<ServiceKey, number>>;
}

export interface ServiceSpec {
  /** Instance key: the service key for replica 1. */
  key: InstanceKey;
  serviceKey: ServiceKey;
  /** 1-based. */
  replica: number;
  /** Workspace name (certificate, entry): the same for every replica. */
  name: string;
  /** `bank-service`, `bank-service.2`: log file and labels. */
  instanceName: string;
  entry: string;
  /** Instance keys of every replica of each dependency. */
  dependsOn: InstanceKey[];
  /** Role -> port: grpc/http and ops (readiness, metrics). */
  ports: Record<string, number>;
  readyUrl: string;
  env: Record<string, string>;
}

export interface LoadBalancerBackend {
  key: InstanceKey;
  port: number;
  /** Health check port (identity: its ops port) and path (/readyz). */
  checkPort: number;
  checkPath: string;
}
export interface LoadBalancerFrontend {
  port: number;
  mode: 'http' | 'tcp';
  backends: LoadBalancerBackend[];
}
export interface LoadBalancerSpec {
  key: 'loadBalancer';
  name: 'haproxy';
  instanceName: 'haproxy';
  statsPort: number;
  /** HTML stats (`;csv` appended: CSV). */
  statsUrl: string;
  /** Prometheus exporter. */
  metricsUrl: string;
  /** monitor-uri: 200 while HAProxy runs. */
  readyUrl: string;
  frontends: { gateway?: LoadBalancerFrontend; identity?: LoadBalancerFrontend };
}

export interface SystemDescription {
  ports: Ports;
  replicas: number;
  topics: Topics;
  services: ServiceSpec[];
  /** Instance keys per included service, replica order. */
  instances: Partial<Record<ServiceKey, InstanceKey[]>>;
  /** Comma lists of every replica's gRPC address (one address with one replica). */
  grpcAddresses: { bank: string; cardAdapter: string; analytics: string; webhooks: string };
  /** HAProxy when replicas > 1 (same URL as the one gateway otherwise). */
  baseUrl: string;
  /** Replica 1's. */
  bankGrpcAddress: string;
  /** The identity-service's URL: `iss` of access tokens and base of discovery and /auth/token. */
  issuer: string;
  audience: string;
  /** The certificates the services were given (a test client plays a service with them). */
  pki: Pki;
  /** HAProxy in front of the gateways and identity-services; undefined with one replica. */
  loadBalancer: LoadBalancerSpec | undefined;
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
  key: InstanceKey | 'loadBalancer';
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
  onLine?: (key: InstanceKey | 'loadBalancer', line: string) => void;
  nodeArgs?: (key: InstanceKey) => string[];
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

export interface LoadBalancerHandle extends Omit<ServiceHandle, 'key' | 'serviceKey' | 'replica' | 'dependsOn'>, Omit<LoadBalancerSpec, 'key'> {
  key: 'loadBalancer';
}

export interface RunningSystem {
  description: SystemDescription;
  /** Keyed by instance key (`bank`, `bank.2`). */
  services: Partial<Record<InstanceKey, ServiceHandle>>;
  /** HAProxy (replicas > 1): started first, stopped last, supervised like a service. */
  loadBalancer: LoadBalancerHandle | undefined;
  ports: Ports;
  baseUrl: string;
  /** Every instance of a service, replica order. */
  instancesOf(serviceKey: ServiceKey): ServiceHandle[];
  /** Starts one instance and waits until ready (and in HAProxy's rotation when behind it). */
  start(key: InstanceKey | 'loadBalancer'): Promise<number | undefined>;
  startAll(): Promise<void>;
  restart(key: InstanceKey | 'loadBalancer', extraEnv?: Record<string, string>): Promise<number | undefined>;
  kill(key: InstanceKey | 'loadBalancer'): Promise<number | string | null | undefined>;
  /** Dependants first, layer by layer, within timeoutMs overall. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
}

export declare function createSystem(description: SystemDescription, options?: RunOptions): RunningSystem;
export declare function startSystem(options: DescribeOptions & RunOptions): Promise<RunningSystem>;
