// Certificates for tests: every test that talks gRPC to a service does so over
// mutual TLS, as a named service, exactly like the real callers (no plaintext
// path is left open for tests). `npm test` creates one development PKI per run
// (scripts/lib/infra.mjs) and passes its folder as TEST_PKI_DIR; a test run
// outside it falls back to .data/pki-test.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ChannelCredentials, credentials as grpcCredentials, type ChannelOptions } from '@grpc/grpc-js';
import pino from 'pino';
import type { GrpcTransport } from '@wallet/platform';
import { createGrpcSecurity, mtlsChannelOptions, serviceIdentityCheck, type GrpcSecurity } from '@wallet/platform/tls';
import { createCa, ensurePki, issueServiceCertificate, loadCa, writeServiceFiles, type Pki } from '../../scripts/lib/pki.mjs';

export type ServiceName =
  | 'api-gateway'
  | 'bank-service'
  | 'bank-card-adapter'
  | 'analytics-service'
  | 'identity-service'
  | 'payment-gateway-mock'
  | 'webhook-service';

let pkiPromise: Promise<Pki> | undefined;

/** The run's development PKI (CA + one certificate per service). */
export function testPki(): Promise<Pki> {
  pkiPromise ??= ensurePki({ dir: process.env.TEST_PKI_DIR ?? path.resolve('.data/pki-test') });
  return pkiPromise;
}

/** TLS_CA_FILE / TLS_CERT_FILE / TLS_KEY_FILE for a service process or in-process service config. */
export async function testTlsEnv(service: ServiceName): Promise<{ TLS_CA_FILE: string; TLS_CERT_FILE: string; TLS_KEY_FILE: string }> {
  const pki = await testPki();
  const files = pki.services[service]!;
  return { TLS_CA_FILE: pki.caFile, TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile };
}

const silent = pino({ level: 'silent' });
const securities = new Map<ServiceName, GrpcSecurity>();

/** GrpcSecurity of `service` (for a test that plays that service, as client or server). Cached; never reloads. */
export async function testGrpcSecurity(service: ServiceName): Promise<GrpcSecurity> {
  let security = securities.get(service);
  if (!security) {
    const env = await testTlsEnv(service);
    security = createGrpcSecurity(
      { caFile: env.TLS_CA_FILE, certFile: env.TLS_CERT_FILE, keyFile: env.TLS_KEY_FILE, reloadIntervalMs: 0, reloadOnSighup: false },
      { logger: silent },
    );
    securities.set(service, security);
  }
  return security;
}

/** How a test reaches `server` while presenting the certificate of `as` (default: the gateway, the usual caller). */
export async function testClientTransport(server: ServiceName, as: ServiceName = 'api-gateway'): Promise<GrpcTransport> {
  return (await testGrpcSecurity(as)).client(server);
}

/** The kinds of client a hop must refuse (besides a valid certificate of a service not in its table). */
export type RogueClientKind = 'plaintext' | 'no-certificate' | 'other-ca' | 'expired';

/**
 * A transport that a server must refuse at the TLS handshake (the client sees
 * UNAVAILABLE): plaintext, TLS without a client certificate, a certificate of
 * `as` signed by another CA, or an expired certificate of `as` from the right CA.
 */
export async function rogueClientTransport(kind: RogueClientKind, server: ServiceName, as: ServiceName = 'api-gateway'): Promise<GrpcTransport> {
  const channelOptions: ChannelOptions = mtlsChannelOptions(server);
  const pki = await testPki();
  const ca = readFileSync(pki.caFile);
  const verify = { checkServerIdentity: serviceIdentityCheck(server) };
  if (kind === 'plaintext') return { credentials: grpcCredentials.createInsecure(), channelOptions: {} };
  if (kind === 'no-certificate') return { credentials: ChannelCredentials.createSsl(ca, null, null, verify), channelOptions };
  const dir = mkdtempSync(path.join(tmpdir(), `wallet-rogue-${kind}-`));
  let pair;
  if (kind === 'other-ca') {
    pair = await issueServiceCertificate(await createCa({ name: 'rogue CA' }), as);
  } else {
    const realCa = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
    const dayMs = 24 * 60 * 60 * 1000;
    pair = await issueServiceCertificate(realCa, as, { notBefore: new Date(Date.now() - 3 * dayMs), notAfter: new Date(Date.now() - dayMs) });
  }
  const files = writeServiceFiles(dir, as, pair);
  return {
    credentials: ChannelCredentials.createSsl(ca, readFileSync(files.keyFile), readFileSync(files.certFile), verify),
    channelOptions,
  };
}
