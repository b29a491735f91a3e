import type { PeerCertificate } from 'node:tls';

/** grpc-js 1.14's AuthContext (not exported from the package root). */
export interface PeerAuthContext {
  transportSecurityType?: string;
  sslPeerCertificate?: PeerCertificate;
}

/** Anything grpc-js hands a server handler (unary, streaming): all expose the auth context. */
export interface CallWithAuthContext {
  getAuthContext(): PeerAuthContext | null;
}

/** Names that are never a workload identity even when a certificate carries them. */
const NOT_A_SERVICE = new Set(['localhost']);

/** The DNS names in a certificate's subjectAltName ("DNS:a, IP Address:127.0.0.1, DNS:b" -> [a, b]). */
export function certificateDnsNames(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): string[] {
  const san = cert?.subjectaltname;
  if (!san) return [];
  return san
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice('DNS:'.length).toLowerCase());
}

/**
 * The calling service's name: the first SAN DNS name of the client
 * certificate verified in the TLS handshake, other than localhost (the dev PKI
 * puts the service name first). Null when the call carried no verified client
 * certificate (plaintext server, or no certificate): treat as unauthenticated.
 */
export function peerServiceName(call: CallWithAuthContext): string | null {
  const context = call.getAuthContext();
  if (context?.transportSecurityType !== 'ssl') return null;
  const cert = context.sslPeerCertificate;
  // Node gives an empty object when the peer sent no certificate.
  if (!cert || !cert.raw) return null;
  return certificateDnsNames(cert).find((name) => !NOT_A_SERVICE.has(name)) ?? null;
}
