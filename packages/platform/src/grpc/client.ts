import { Metadata, type CallOptions, type ChannelCredentials, type Client, type ChannelOptions, type ClientOptions, type ServiceError } from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { clientTracingInterceptor, grpcClientHistogram } from './observability.js';

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
  // Retries are ours to decide (idempotency keys make them safe), not the channel's.
  'grpc.enable_retries': 0,
};

type ClientCtor<C extends Client> = new (address: string, creds: ChannelCredentials, options?: ClientOptions) => C;

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
};

/**
 * A client whose every call is a CLIENT span with `traceparent` in its
 * metadata and, with options.registry, counted in
 * grpc_client_handling_seconds{grpc_service,grpc_method,grpc_code}.
 */
export function createGrpcClient<C extends Client>(Ctor: ClientCtor<C>, address: string, transport: GrpcTransport, options: GrpcClientOptions = {}): C {
  const { registry, ...channelOptions } = options;
  const histogram = registry ? grpcClientHistogram(registry as Registry) : undefined;
  return new Ctor(address, transport.credentials, {
    ...GRPC_CLIENT_OPTIONS,
    ...transport.channelOptions,
    ...channelOptions,
    // Outermost, so the span covers any interceptor the caller adds.
    interceptors: [clientTracingInterceptor(address, histogram), ...((channelOptions.interceptors as ClientOptions['interceptors']) ?? [])],
  });
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
