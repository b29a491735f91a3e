import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { experimental, type ChannelCredentials, type ServerCredentials } from '@grpc/grpc-js';
import { ReloadingCertificateProvider, type ReloadingCertificateProviderOptions } from './certificate-provider.js';

/** A service's mutual-TLS credentials: one reloading provider behind the server and every client. */
export interface Mtls {
  readonly provider: ReloadingCertificateProvider;
  /** Server credentials that require a client certificate signed by the CA (no certificate: handshake refused). */
  serverCredentials(): ServerCredentials;
  /**
   * Channel credentials presenting this service's certificate and accepting
   * only a server whose certificate, signed by the CA, names `serverServiceName`
   * in its SAN DNS. The address dialled (IP, localhost, DNS alias) does not
   * matter: the identity checked is the service's name.
   */
  channelCredentials(serverServiceName: string): ChannelCredentials;
  /** Stops reloading (after the server and channels are closed). */
  close(): void;
}

/**
 * Checks the server's certificate names the expected service (instead of the
 * dialled host name, which in tests and on loopback is 127.0.0.1). Returns an
 * Error to refuse the handshake, as tls.checkServerIdentity does.
 */
export function serviceIdentityCheck(serverServiceName: string): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (_hostname, cert) => checkServerIdentity(serverServiceName, cert);
}

/**
 * Channel options to pass with channelCredentials(serverServiceName): TLS SNI
 * carries the service name instead of the dialled address (node warns about
 * an IP address as SNI, RFC 6066), so a server behind an SNI-routing proxy
 * is reachable too. The identity check itself does not depend on it.
 */
export function mtlsChannelOptions(serverServiceName: string): { 'grpc.ssl_target_name_override': string } {
  return { 'grpc.ssl_target_name_override': serverServiceName };
}

/** Builds a service's mutual-TLS credentials from its files (see ReloadingCertificateProvider). Throws on unusable files. */
export function createMtls(options: ReloadingCertificateProviderOptions): Mtls {
  const provider = new ReloadingCertificateProvider(options);
  // One credentials object per server: grpc-js compares credentials by provider identity.
  // (grpc-js 1.14 passes this function's two providers to the constructor in swapped
  // order; passing the same provider for both makes that harmless.)
  const server = experimental.createCertificateProviderServerCredentials(provider, provider, true);
  return {
    provider,
    serverCredentials: () => server,
    channelCredentials: (serverServiceName) =>
      experimental.createCertificateProviderChannelCredentials(provider, provider, {
        checkServerIdentity: serviceIdentityCheck(serverServiceName),
      }),
    close: () => provider.close(),
  };
}
