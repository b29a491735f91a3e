import { Metadata, type CallOptions, type ChannelCredentials, type Client, type ChannelOptions, type ClientOptions, type ServiceDefinition, type ServiceError } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { clientTracingInterceptor, grpcClientHistogram } from './observability.js';
import { HEALTH_PROBE_DEFAULTS, healthAwareChannel, type HealthProbeSettings } from './resolver.js';
import { undecidedMethods, type GrpcServiceConfig } from './service-config.js';

/** Channel options shared by every client: keepalive and bounded messages. */
export const GRPC_CLIENT_OPTIONS: ChannelOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 4 * 1024 * 1024,
  'grpc.max_send_message_length': 1024 * 1024,
  // Reconnect quickly after a peer restarts, but never hammer it.
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5_000,
  // Without a service config the channel retries nothing (not even transparently):
  // callers decide with their idempotency keys. createGrpcClient turns retries on
  // for a client built with grpcServiceConfig (its per-RPC retry table).
  'grpc.enable_retries': 0,
};

type ClientCtor<C extends Client> = (new (address: string, creds: ChannelCredentials, options?: ClientOptions) => C) & { service?: ServiceDefinition };

/**
 * How a client reaches one server: mutual-TLS credentials checked against the
 * server's service name, and the channel options that go with them. Built by
 * GrpcSecurity.client(serverServiceName) from `@wallet/platform/tls`.
 */
export interface GrpcTransport {
  credentials: ChannelCredentials;
  channelOptions: ChannelOptions;
}

/** Channel options, plus the service's metrics registry for the client RED histogram. */
export type GrpcClientOptions = ChannelOptions & {
  /** Optional so callers adopt it one by one: without it calls are traced but not counted. */
  registry?: Registry;
  /**
   * grpcServiceConfig(...): round_robin over every address of the target, the
   * channel's retry policy per RPC, and (unless healthCheck is false) only
   * backends whose grpc.health.v1 answers SERVING get calls (resolver.ts).
   */
  serviceConfig?: GrpcServiceConfig;
  /** Health probing of a balanced client: false = off; default HEALTH_PROBE_DEFAULTS. */
  healthCheck?: false | Partial<HealthProbeSettings>;
};

/** A target that names several addresses (grpc-js would pick only the first with its default pick_first). */
function isMultiAddressTarget(target: string): boolean {
  return /^(dns|ipv4|ipv6|wallet-list):/.test(target);
}

/**
 * A client whose every call is a CLIENT span with `traceparent` in its
 * metadata and, with options.registry, counted in
 * grpc_client_handling_seconds{grpc_service,grpc_method,grpc_code}.
 * `target` is what parseGrpcTarget made of an address setting. With
 * options.serviceConfig the client balances (round_robin), retries per its
 * table and skips backends that are not SERVING; every method of the client
 * must have a stated retry decision. A multi-address target without a service
 * config still balances round_robin (no retries, no health probing).
 * mTLS: transport.channelOptions keeps grpc.ssl_target_name_override = the
 * server's service name, so every replica's certificate is checked against
 * that name whatever its address.
 */
export function createGrpcClient<C extends Client>(Ctor: ClientCtor<C>, target: string, transport: GrpcTransport, options: GrpcClientOptions = {}): C {
  const { registry, serviceConfig, healthCheck, ...channelOptions } = options;
  const histogram = registry ? grpcClientHistogram(registry as Registry) : undefined;
  const baseOptions: ChannelOptions = { ...GRPC_CLIENT_OPTIONS, ...transport.channelOptions, ...channelOptions };
  let channelTarget = target;
  let releaseProbeSetup = (): void => undefined;
  const balancing: ChannelOptions = {};
  if (serviceConfig) {
    assertRetryDecisions(Ctor, serviceConfig);
    balancing['grpc.service_config'] = JSON.stringify(serviceConfig);
    balancing['grpc.enable_retries'] = 1;
    if (healthCheck !== false) {
      const settings = probeSettings(healthCheck);
      // A probe channel that backs off longer than the probe interval would see a
      // restarted replica late: it reconnects at least once per interval.
      const probeOptions: ChannelOptions = { ...baseOptions, 'grpc.max_reconnect_backoff_ms': Math.min(settings.probeIntervalMs, GRPC_CLIENT_OPTIONS['grpc.max_reconnect_backoff_ms'] as number) };
      delete probeOptions.interceptors;
      const health = healthAwareChannel(target, { ...settings, credentials: transport.credentials, channelOptions: probeOptions });
      channelTarget = health.target;
      releaseProbeSetup = health.release;
      Object.assign(balancing, health.option);
    }
  } else if (isMultiAddressTarget(target)) {
    balancing['grpc.service_config'] = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });
  }
  try {
    return new Ctor(channelTarget, transport.credentials, {
      ...baseOptions,
      ...balancing,
      // Outermost, so the span covers any interceptor the caller adds.
      interceptors: [clientTracingInterceptor(target, histogram), ...((channelOptions.interceptors as ClientOptions['interceptors']) ?? [])],
    });
  } finally {
    // grpc-js builds the channel's one resolver in the channel's constructor (internal-channel.ts ->
    // resolving-load-balancer.ts), which took the setup: the registry entry is no longer needed.
    releaseProbeSetup();
  }
}

/** Bounds of the probe settings: no probe storm, no probe that outlives a few intervals. */
const PROBE_INTERVAL_MS_MIN = 100;
const PROBE_INTERVAL_MS_MAX = 60_000;
const PROBE_TIMEOUT_MS_MIN = 50;
const PROBE_TIMEOUT_MS_MAX = 10_000;

function probeSettings(overrides: Partial<HealthProbeSettings> = {}): HealthProbeSettings {
  const settings = { ...HEALTH_PROBE_DEFAULTS, ...overrides };
  const within = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;
  if (!within(settings.probeIntervalMs, PROBE_INTERVAL_MS_MIN, PROBE_INTERVAL_MS_MAX)) throw new Error(`health probeIntervalMs must be ${PROBE_INTERVAL_MS_MIN}..${PROBE_INTERVAL_MS_MAX}`);
  if (!within(settings.probeTimeoutMs, PROBE_TIMEOUT_MS_MIN, PROBE_TIMEOUT_MS_MAX)) throw new Error(`health probeTimeoutMs must be ${PROBE_TIMEOUT_MS_MIN}..${PROBE_TIMEOUT_MS_MAX}`);
  return settings;
}

/** Every RPC of the client has a stated retry decision in the service config. */
function assertRetryDecisions(Ctor: ClientCtor<Client>, config: GrpcServiceConfig): void {
  if (!Ctor.service) return;
  const byService = new Map<string, string[]>();
  for (const method of Object.values(Ctor.service)) {
    const [, service, name] = /^\/([^/]+)\/([^/]+)$/.exec(method.path) ?? [];
    if (service && name) byService.set(service, [...(byService.get(service) ?? []), name]);
  }
  for (const [service, methods] of byService) {
    const missing = undecidedMethods(config, service, methods);
    if (missing.length > 0) throw new Error(`gRPC service config for ${service}: no retry decision for ${missing.join(', ')} (list each in retryable or notRetried with why)`);
  }
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/**
 * Calls a unary method with a deadline; every remote call goes through here so
 * none can hang. Headers such as x-request-id are forwarded as metadata.
 */
export function callUnary<Req, Res>(
  client: Client,
  method: UnaryMethod<Req, Res>,
  request: Req,
  options: { timeoutMs: number; headers?: Record<string, string | undefined> },
): Promise<Res> {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(options.headers ?? {})) {
    if (value !== undefined) metadata.set(key, value);
  }
  return new Promise<Res>((resolve, reject) => {
    method.call(client, request, metadata, { deadline: Date.now() + options.timeoutMs }, (error, response) => {
      if (error) reject(error);
      else resolve(response);
    });
  });
}
