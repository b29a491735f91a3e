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
  // getAuthContext parses the peer certificate on every call (~10 % of the bank's CPU per
  // transfer); the verified certificate of an HTTP/2 session cannot change (no renegotiation),
  // so its answer is remembered per session.
  const session = http2SessionOf(call);
  if (session === undefined) return peerServiceNameUncached(call);
  let name = namesBySession.get(session);
  if (name === undefined) {
    name = peerServiceNameUncached(call);
    namesBySession.set(session, name);
  }
  return name;
}

/** Caller names per HTTP/2 session (weak: a closed connection's entry goes with it). */
const namesBySession = new WeakMap<object, string | null>();

/** How deep to look through grpc-js's interceptor chain for the stream. */
const CALL_CHAIN_DEPTH_MAX = 8;

/**
 * The HTTP/2 session under a grpc-js server call (its 1.14 internals: call.call, then
 * nextCall... down to the call holding `stream`), or undefined when the shape differs:
 * then every call is checked from its certificate, as before.
 */
export function http2SessionOf(call: CallWithAuthContext): object | undefined {
  let inner: unknown = (call as { call?: unknown }).call;
  for (let depth = 0; depth < CALL_CHAIN_DEPTH_MAX && typeof inner === 'object' && inner !== null; depth += 1) {
    const stream = (inner as { stream?: { session?: unknown } }).stream;
    if (stream !== undefined) return typeof stream?.session === 'object' && stream.session !== null ? stream.session : undefined;
    inner = (inner as { nextCall?: unknown }).nextCall;
  }
  return undefined;
}

function peerServiceNameUncached(call: CallWithAuthContext): string | null {
  const context = call.getAuthContext();
  if (context?.transportSecurityType !== 'ssl') return null;
  const cert = context.sslPeerCertificate;
  // Node gives an empty object when the peer sent no certificate.
  if (!cert || !cert.raw) return null;
  return certificateDnsNames(cert).find((name) => !NOT_A_SERVICE.has(name)) ?? null;
}
