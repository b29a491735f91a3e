// How the bench's own gRPC client (the "gRPC direct" scenarios) identifies
// itself to the bank: like a real caller, with the api-gateway's certificate
// from the system's PKI (ADR 0009: TransferMoney is allowed from api-gateway
// only), through the same @wallet/platform/tls code the services use. The
// plaintext transport exists only for the "mTLS off" half of the comparison,
// when every gRPC service runs with the bench hook WALLET_TEST_GRPC_PLAINTEXT.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { createLogger } from '@wallet/platform';
import { createGrpcSecurity } from '@wallet/platform/tls';
import { Agent, setGlobalDispatcher } from 'undici';
import { ensurePki, PKI_DIR_DEFAULT } from '../../scripts/lib/pki.mjs';

/** The identity the bench's gRPC client presents: the only caller of TransferMoney. */
export const BENCH_GRPC_CALLER = 'api-gateway';
/** The server it dials (checked against the bank's certificate). */
export const BANK_SERVICE_NAME = 'bank-service';

/**
 * The PKI of the system under test: the one the launcher created (system
 * description), else the development PKI in `dir` (a system started by
 * `npm start` uses .data/pki), created there if absent.
 * @returns {Promise<{ caFile: string, services: Record<string, { certFile: string, keyFile: string }> }>}
 */
export async function resolvePki({ pki, dir = PKI_DIR_DEFAULT } = {}) {
  if (pki?.caFile && pki?.services) return pki;
  return ensurePki({ dir });
}

/**
 * One GrpcSecurity for the bench process, as `caller`: certificate files read
 * once (no reload timer, and no SIGHUP listener: the bench's SIGHUP stays
 * node's default), or plaintext for the "mTLS off" measurements.
 * @param {{ pki?: { caFile: string, services: Record<string, { certFile: string, keyFile: string }> }, plaintext?: boolean, caller?: string }} options
 */
export function createBenchGrpcSecurity({ pki, plaintext = false, caller = BENCH_GRPC_CALLER }) {
  // Only errors: the bench's console is its progress log (plaintext mode warns on purpose, and we know).
  const logger = createLogger('bench', 'error');
  if (plaintext) return createGrpcSecurity('plaintext', { logger });
  const files = pki?.services?.[caller];
  if (!files) throw new Error(`bench: no certificate for ${caller} in the PKI (${pki?.caFile ?? 'none'})`);
  return createGrpcSecurity(
    { caFile: pki.caFile, certFile: files.certFile, keyFile: files.keyFile, reloadIntervalMs: 0, reloadOnSighup: false },
    { logger },
  );
}

/** The transport of a client of the bank-service (GrpcTransport of @wallet/platform). */
export function bankTransport(security) {
  return security.client(BANK_SERVICE_NAME);
}

/**
 * fetch() in this process also trusts the system's CA: the identity-service
 * serves HTTPS with a certificate of the development CA when the launcher
 * says so (an https:// issuer), and the load generator registers and logs in
 * there. Public CAs stay trusted.
 */
export function trustCaForFetch(caFile) {
  setGlobalDispatcher(new Agent({ connect: { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] } }));
}
