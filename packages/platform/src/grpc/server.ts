import { Server, type ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation, service as healthServiceDefinition } from 'grpc-health-check';
import type { Registry } from 'prom-client';
import { grpcServerHistogram, instrumentServiceImplementation } from './observability.js';

export interface GrpcServiceRegistration {
  /** Fully-qualified service name for the health service, e.g. wallet.bank.v1.BankService. */
  name: string;
  definition: ServiceDefinition;
  implementation: UntypedServiceImplementation;
}

export interface RunningGrpcServer {
  server: Server;
  port: number;
  health: HealthImplementation;
  /** Marks every service NOT_SERVING, then drains in-flight calls within timeoutMs. */
  shutdown(timeoutMs: number): Promise<void>;
}

/** Limits shared by every gRPC server: bounded messages, streams and idle connections. */
export const GRPC_SERVER_OPTIONS = {
  'grpc.max_receive_message_length': 1024 * 1024,
  'grpc.max_send_message_length': 4 * 1024 * 1024,
  'grpc.max_concurrent_streams': 1000,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 10_000,
  'grpc.max_connection_idle_ms': 5 * 60_000,
} as const;

/**
 * Starts a gRPC server with the standard health service (grpc.health.v1), open
 * to any authenticated caller. Every unary call of `services` runs in a SERVER
 * span (parent: the caller's traceparent) and, with `registry`, is counted in
 * grpc_server_handling_seconds{grpc_service,grpc_method,grpc_code}. Health
 * checks are neither traced nor counted (probe noise).
 */
export async function startGrpcServer(options: {
  host: string;
  port: number;
  services: GrpcServiceRegistration[];
  /** Mutual-TLS server credentials (GrpcSecurity.serverCredentials()); never insecure outside the bench hook. */
  credentials: ServerCredentials;
  /** The service's metrics registry; optional so services adopt it one by one (no histogram without it). */
  registry?: Registry;
}): Promise<RunningGrpcServer> {
  const server = new Server(GRPC_SERVER_OPTIONS);
  const statusMap: Record<string, 'SERVING' | 'NOT_SERVING'> = { '': 'SERVING' };
  const histogram = options.registry ? grpcServerHistogram(options.registry) : undefined;
  for (const s of options.services) {
    server.addService(s.definition, instrumentServiceImplementation(s.definition, s.implementation, histogram));
    statusMap[s.name] = 'SERVING';
  }
  const health = new HealthImplementation(statusMap);
  health.addToServer(server);
  void healthServiceDefinition;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, options.credentials, (error, boundPort) =>
      error ? reject(error) : resolve(boundPort),
    );
  });
  return {
    server,
    port,
    health,
    shutdown: async (timeoutMs: number) => {
      for (const name of Object.keys(statusMap)) health.setStatus(name, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}
