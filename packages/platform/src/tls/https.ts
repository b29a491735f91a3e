import { checkServerIdentity, type ConnectionOptions, type Server as TlsServer, type TlsOptions } from 'node:tls';
import type { ReloadingCertificateProvider } from './certificate-provider.js';

// The same identity for HTTP hops (gateway -> identity-service, card adapter
// -> payment gateway mock): node's https/http2 servers and clients.

/** Options for https.createServer / http2.createSecureServer requiring a client certificate from the CA. */
export function mtlsServerOptions(provider: ReloadingCertificateProvider): TlsOptions {
  const { ca, cert, key } = provider.current();
  return { ca, cert, key, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' };
}

/**
 * Keeps a node TLS server (https, http2 secure) on the provider's current
 * files: new connections use rotated files, open ones keep theirs. Returns a
 * function that stops following (call it when the server closes).
 */
export function followCertificateRotation(server: Pick<TlsServer, 'setSecureContext'>, provider: ReloadingCertificateProvider): () => void {
  const update = (): void => {
    const { ca, cert, key } = provider.current();
    server.setSecureContext({ ca, cert, key });
  };
  // The provider publishes CA and identity separately; both read current(), which holds a validated set.
  const onCa = (): void => update();
  const onIdentity = (): void => update();
  provider.addCaCertificateListener(onCa);
  provider.addIdentityCertificateListener(onIdentity);
  return () => {
    provider.removeCaCertificateListener(onCa);
    provider.removeIdentityCertificateListener(onIdentity);
  };
}

/**
 * Options for one outgoing connection (https.request, tls.connect, undici's
 * `connect`) presenting this service's current certificate and accepting only
 * a server whose certificate names `serverServiceName`. Call it per
 * connection (or per agent) so a rotated certificate is used.
 */
export function mtlsClientOptions(provider: ReloadingCertificateProvider, serverServiceName: string): ConnectionOptions {
  const { ca, cert, key } = provider.current();
  return { ca, cert, key, servername: serverServiceName, checkServerIdentity: (_host, peer) => checkServerIdentity(serverServiceName, peer) };
}
