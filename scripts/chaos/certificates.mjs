// The certificate side of the nemesis (issue 11): re-issue a service's
// certificate from the run's own CA into the files the service was started
// with (atomically, key first), send it SIGHUP, and check that it reloaded and
// that NEW connections work with the new certificate: the server presents it,
// a caller's fresh channel passes the handshake and the gRPC health check, and
// the service's own new certificate is accepted by the bank. Open connections
// keep their handshake (ADR 0009); later kills force every client to
// reconnect with what it has loaded then.
import { X509Certificate } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeGenericClientConstructor } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { callUnary, createGrpcClient, createLogger } from '@wallet/platform';
import { createGrpcSecurity } from '@wallet/platform/tls';
import { issueServiceCertificate, loadCa, writeServiceFiles } from '../lib/pki.mjs';

const RELOAD_WAIT_MS = 15_000;
const HANDSHAKE_TIMEOUT_MS = 5_000;
const HEALTH_DEADLINE_MS = 5_000;
const POLL_MS = 100;
const LOG_READ_BYTES_MAX = 4 * 1024 * 1024;
/** Rotated certificates are valid this long minus a few minutes, so each one differs visibly from the one it replaces. */
const ROTATED_VALIDITY_MS = 60 * 24 * 60 * 60 * 1000;
/** Every gRPC server lets any certificate of the CA ask for health; the bench and chaos ask as the gateway. */
const PROBE_CALLER = 'api-gateway';

const HealthClient = makeGenericClientConstructor(healthService, 'Health');
const quiet = createLogger('chaos', 'error');

/** Size of a file (0 when absent): where to look for new log lines from. */
export function fileSize(path) {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The text appended to a file since `fromByte` (bounded). */
function readFrom(path, fromByte) {
  const fd = openSync(path, 'r');
  try {
    const length = Math.min(Math.max(0, statSync(path).size - fromByte), LOG_READ_BYTES_MAX);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, fromByte);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Polls until check() returns a value other than undefined, or throws `what` at the deadline. */
async function waitFor(check, what, timeoutMs = RELOAD_WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms${last ? ` (last: ${last.message})` : ''}`);
    await sleep(POLL_MS);
  }
}

/** SHA-256 fingerprint of the certificate a TLS server presents to a client holding `as`'s certificate. */
export function servedFingerprint({ port, serverName, caFile, client }) {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: serverName,
      ca: readFileSync(caFile),
      ...(client ? { cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) } : {}),
      ALPNProtocols: ['h2', 'http/1.1'],
      // The name is checked by the real clients; here only which certificate is served.
      checkServerIdentity: () => undefined,
      timeout: HANDSHAKE_TIMEOUT_MS,
    });
    const done = (error, value) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    socket.once('secureConnect', () => done(undefined, socket.getPeerCertificate().fingerprint256));
    socket.once('timeout', () => done(new Error(`TLS handshake with ${serverName} timed out`)));
    socket.once('error', (error) => done(error));
  });
}

/** One gRPC health Check over a NEW channel, presenting `files` (mutual TLS), checking the server is `serverName`. */
export async function healthOverNewChannel({ address, serverName, caFile, files }) {
  const security = createGrpcSecurity({ caFile, certFile: files.certFile, keyFile: files.keyFile, reloadIntervalMs: 0, reloadOnSighup: false }, { logger: quiet });
  const client = createGrpcClient(HealthClient, address, security.client(serverName));
  try {
    const answer = await callUnary(client, client.check, { service: '' }, { timeoutMs: HEALTH_DEADLINE_MS });
    if (answer.status !== 'SERVING' && answer.status !== 1) throw new Error(`health of ${serverName}: ${answer.status}`);
  } finally {
    client.close();
    security.close();
  }
}

/**
 * Re-issues the certificate of a service into its files, SIGHUPs every
 * instance of it (its replicas share the files) and checks new connections
 * (see the top of this file). Each of `instances`: { name, pid(), logPath(),
 * tls?: { port, grpc, probeAs? } } — the port where it serves TLS (gRPC or
 * HTTPS), and which certificate a client there presents (none: a server that
 * asks for none). `pki`: the run's PKI (CA key included); `bank`: { addresses }
 * of the bank replicas' gRPC ports, to check the rotated certificate as a
 * client (for services that call it; one replica accepting it is enough: another
 * may be down meanwhile).
 * @returns {Promise<{ fingerprint: string, notAfter: string }>}
 */
export async function rotateCertificate({ pki, instances, bank }) {
  const name = instances[0].name;
  const files = pki.services[name];
  if (!files) throw new Error(`no certificate of ${name} in the run's PKI`);
  const ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
  const pair = await issueServiceCertificate(ca, name, { validityMs: ROTATED_VALIDITY_MS - Math.floor(Math.random() * 600_000) });
  const certificate = new X509Certificate(pair.certPem);
  const logFrom = instances.map((service) => fileSize(service.logPath()));
  const written = writeServiceFiles(dirname(files.certFile), name, pair);
  if (written.certFile !== files.certFile || written.keyFile !== files.keyFile) {
    throw new Error(`rotation wrote ${written.certFile}, but ${name} reads ${files.certFile}`);
  }
  await Promise.all(instances.map((service, i) => reloadAndCheck({ pki, service, logFrom: logFrom[i], fingerprint: certificate.fingerprint256 })));
  // The new certificate as a client: a bank replica accepts it on a new connection (health is open to every certificate of the CA).
  if (bank) await healthOnAny(bank.addresses, { serverName: 'bank-service', caFile: pki.caFile, files });
  return { fingerprint: certificate.fingerprint256, notAfter: new Date(certificate.validTo).toISOString() };
}

/** SIGHUP to one instance; it logs the reload, presents the new certificate, and (gRPC) a new channel is served. */
async function reloadAndCheck({ pki, service, logFrom, fingerprint }) {
  const pid = service.pid();
  if (!pid) throw new Error(`${service.name} is not running`);
  process.kill(pid, 'SIGHUP');
  // "tls certificate reloaded" (gRPC services), "tls: service certificate reloaded" (identity-service).
  const logPath = service.logPath();
  await waitFor(() => (/certificate reloaded/i.test(readFrom(logPath, logFrom)) ? true : undefined), `${service.name} (pid ${pid}) did not log that its certificate reloaded`);
  const tls = service.tls;
  if (!tls?.port) return;
  const client = tls.probeAs === undefined ? pki.services[PROBE_CALLER] : tls.probeAs && pki.services[tls.probeAs];
  await waitFor(
    async () => ((await servedFingerprint({ port: tls.port, serverName: service.name, caFile: pki.caFile, client })) === fingerprint ? true : undefined),
    `${service.name} on port ${tls.port} did not present its new certificate on a new connection`,
  );
  if (tls.grpc) await healthOverNewChannel({ address: `127.0.0.1:${tls.port}`, serverName: service.name, caFile: pki.caFile, files: client });
}

/** The health check over a new channel to the first of `addresses` that answers it. */
async function healthOnAny(addresses, options) {
  const errors = [];
  for (const address of addresses) {
    try {
      return await healthOverNewChannel({ address, ...options });
    } catch (error) {
      errors.push(`${address}: ${error.message}`);
    }
  }
  throw new Error(`no ${options.serverName} replica accepted the rotated certificate: ${errors.join('; ')}`);
}
