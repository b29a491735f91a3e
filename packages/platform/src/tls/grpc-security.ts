import { ChannelCredentials, ServerCredentials, type ChannelOptions, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { ConfigError } from '../config.js';
import type { GrpcTransport } from '../grpc/client.js';
import { authorizeCallers, type AuthorizeOptions, type CallerTable } from './authorize.js';
import type { ReloadingCertificateProviderOptions } from './certificate-provider.js';
import { tlsOptionsFromConfig, type TlsConfig } from './config.js';
import { createMtls, mtlsChannelOptions, type Mtls } from './credentials.js';

/**
 * What a service's gRPC plumbing needs to know about transport security:
 * the mutual-TLS files, or 'plaintext' when the bench-only hook
 * WALLET_TEST_GRPC_PLAINTEXT is set (refused under NODE_ENV=production like
 * every WALLET_TEST_* hook). There is no other way to get plaintext.
 */
export type GrpcSecurityOptions = ReloadingCertificateProviderOptions | 'plaintext';

/**
 * Reads the transport-security choice from validated config. mTLS is
 * required: missing TLS files are a ConfigError naming the variables (call
 * it inside the service's loadConfig so the service exits 2 with the message).
 */
export function grpcSecurityOptions(config: TlsConfig): GrpcSecurityOptions {
  if (config.WALLET_TEST_GRPC_PLAINTEXT) {
    const set = (['TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE'] as const).filter((name) => config[name] !== undefined);
    if (set.length > 0) throw new ConfigError([`WALLET_TEST_GRPC_PLAINTEXT: cannot be combined with ${set.join(', ')}`]);
    return 'plaintext';
  }
  const options = tlsOptionsFromConfig(config, { required: true });
  if (options === null) throw new ConfigError(['TLS_CA_FILE: missing (mutual TLS is required)']);
  return options;
}

/** One service's transport security: server credentials, client transports and the caller check. */
export interface GrpcSecurity {
  readonly mode: 'mtls' | 'plaintext';
  /** The reloading mTLS credentials (null in plaintext mode). */
  readonly mtls: Mtls | null;
  serverCredentials(): ServerCredentials;
  /** Credentials and channel options for a client of `serverServiceName` (checked against its certificate). */
  client(serverServiceName: string): GrpcTransport;
  /**
   * The implementation wrapped with the per-RPC caller table (authorizeCallers).
   * In plaintext mode (bench only) there is no caller identity, so no table applies.
   */
  authorize<I extends UntypedServiceImplementation>(definition: ServiceDefinition, implementation: I, table: CallerTable<I>, options: AuthorizeOptions): I;
  /** Stops reloading certificates (call last, after servers and clients are closed). */
  close(): void;
}

/**
 * Builds a service's GrpcSecurity once, in start(): loads and validates the
 * files (throws on unusable ones), logs the certificate's expiry at start and
 * on every reload, and exports it as tls_certificate_not_after_seconds.
 */
export function createGrpcSecurity(options: GrpcSecurityOptions, context: { logger: Logger; metrics?: Registry }): GrpcSecurity {
  const { logger } = context;
  if (options === 'plaintext') {
    logger.warn('gRPC in PLAINTEXT without caller authentication (WALLET_TEST_GRPC_PLAINTEXT, bench comparison only)');
    const server = ServerCredentials.createInsecure();
    return {
      mode: 'plaintext',
      mtls: null,
      serverCredentials: () => server,
      client: () => ({ credentials: ChannelCredentials.createInsecure(), channelOptions: {} }),
      authorize: (_definition, implementation) => implementation,
      close: () => {},
    };
  }
  const mtls = createMtls({
    ...options,
    onReload: (event) => {
      if (event.outcome === 'reloaded') logger.info({ notAfter: event.notAfter }, 'tls certificate reloaded');
      else if (event.outcome === 'failed') logger.error({ err: event.error }, 'tls certificate reload failed; keeping the current certificate');
      options.onReload?.(event);
    },
  });
  // grpc-js subscribes to the provider only while a server or channel needs it, and the provider
  // watches (timer + SIGHUP) only while subscribed: a SIGHUP in between would end the process (node's
  // default for an unhandled SIGHUP), e.g. a client-only gateway whose channels went idle. Keep it
  // watching for the process's whole life; close() drops this listener.
  mtls.provider.addIdentityCertificateListener(() => {});
  logger.info({ notAfter: mtls.provider.current().notAfter, certFile: options.certFile }, 'mutual TLS on');
  if (context.metrics) {
    new Gauge({
      name: 'tls_certificate_not_after_seconds',
      help: 'Expiry (Unix seconds) of the certificate this service presents for mutual TLS',
      registers: [context.metrics],
      collect() {
        this.set(Date.parse(mtls.provider.current().notAfter) / 1000);
      },
    });
  }
  return {
    mode: 'mtls',
    mtls,
    serverCredentials: () => mtls.serverCredentials(),
    client: (serverServiceName) => ({
      credentials: mtls.channelCredentials(serverServiceName),
      channelOptions: mtlsChannelOptions(serverServiceName) as ChannelOptions,
    }),
    authorize: (definition, implementation, table, authorizeOptions) => authorizeCallers(definition, implementation, table, authorizeOptions),
    close: () => mtls.close(),
  };
}
