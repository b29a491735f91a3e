// Development PKI for mutual TLS between services (issue #11, ADR 0009).
// Creates a CA and one certificate per service (SAN DNS = service name, plus
// localhost / 127.0.0.1 for servers on loopback) on first use and reuses them
// while they stay valid for more than RENEW_BEFORE_MS. ECDSA P-256 through
// @peculiar/x509 on node's webcrypto: no openssl needed on the machine.
// Operators bring their own CA instead (TLS_CA_FILE / TLS_CERT_FILE / TLS_KEY_FILE).
import { webcrypto, X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
// @peculiar/x509 resolves its services through tsyringe, which needs this polyfill loaded first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

/** Every workload identity of the system; a certificate's SAN DNS is one of these. */
export const SERVICE_NAMES = Object.freeze([
  'api-gateway',
  'bank-service',
  'bank-card-adapter',
  'analytics-service',
  'identity-service',
  'payment-gateway-mock',
  'webhook-service',
]);

/**
 * Infrastructure servers with a certificate from the same CA (server only: they
 * are no workload identity and may not call a service). Clients verify them by
 * these names or by 127.0.0.1 (sslmode=verify-full on loopback).
 */
export const INFRA_NAMES = Object.freeze(['postgres', 'kafka']);

export const PKI_DIR_DEFAULT = '.data/pki';
const DAY_MS = 24 * 60 * 60 * 1000;
/** A certificate with less than this left is renewed on the next run. */
export const RENEW_BEFORE_MS = 7 * DAY_MS;
const CA_VALIDITY_MS = 3650 * DAY_MS;
const LEAF_VALIDITY_MS = 90 * DAY_MS;
// Tolerate clocks a little behind the issuer (containers, VMs).
const BACKDATE_MS = 5 * 60 * 1000;

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };

function serial() {
  // Positive, 16 random bytes (RFC 5280 allows up to 20 octets).
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  return bytes.toString('hex');
}

async function generateKeys() {
  return webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify']);
}

async function privateKeyPem(keys) {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
}

/** Writes via a temporary file and rename, so a watcher never reads half a file. */
function writeAtomic(file, content, mode) {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, file);
}

/**
 * A new self-signed CA (in memory). `name` becomes its common name.
 * @returns {Promise<{ certPem: string, keyPem: string, cert: x509.X509Certificate, keys: CryptoKeyPair }>}
 */
export async function createCa({ name = 'wallet development CA', notBefore, notAfter } = {}) {
  const keys = await generateKeys();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: notBefore ?? new Date(now - BACKDATE_MS),
    notAfter: notAfter ?? new Date(now + CA_VALIDITY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys), cert, keys };
}

/** Loads a CA written by writeCa (for issuing more certificates). */
export async function loadCa(certPem, keyPem) {
  const cert = new x509.X509Certificate(certPem);
  const der = createPrivateKey(keyPem).export({ format: 'der', type: 'pkcs8' });
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, true, ['sign']);
  const publicKey = await cert.publicKey.export(KEY_ALGORITHM, ['verify'], webcrypto);
  return { certPem, keyPem, cert, keys: { privateKey, publicKey } };
}

/**
 * Issues a leaf certificate for `serviceName` signed by `ca`, usable as both
 * TLS server and client (every service is both) unless clientAuth is false
 * (infrastructure servers). SANs: DNS serviceName, plus DNS localhost and IP
 * 127.0.0.1 / ::1 unless loopback is false.
 * notBefore/notAfter override the validity (tests issue expired certificates).
 */
export async function issueServiceCertificate(ca, serviceName, { loopback = true, clientAuth = true, notBefore, notAfter, validityMs = LEAF_VALIDITY_MS } = {}) {
  const keys = await generateKeys();
  const now = Date.now();
  const sans = [{ type: 'dns', value: serviceName }];
  if (loopback) sans.push({ type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' });
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${serviceName}`,
    issuer: ca.cert.subject,
    notBefore: notBefore ?? new Date(now - BACKDATE_MS),
    notAfter: notAfter ?? new Date(now + validityMs),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(clientAuth ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return { certPem: cert.toString('pem'), keyPem: await privateKeyPem(keys) };
}

/** Writes <name>.pem (0644) and <name>-key.pem (0600) atomically; returns their paths. */
export function writeServiceFiles(dir, name, { certPem, keyPem }) {
  mkdirSync(dir, { recursive: true });
  const certFile = path.join(dir, `${name}.pem`);
  const keyFile = path.join(dir, `${name}-key.pem`);
  // Key first: a watcher that sees the new certificate finds its key already there.
  writeAtomic(keyFile, keyPem, 0o600);
  writeAtomic(certFile, certPem, 0o644);
  return { certFile, keyFile };
}

/** True when the PEM file exists, parses, and stays valid for more than RENEW_BEFORE_MS. */
function stillValid(file, nowMs) {
  if (!existsSync(file)) return false;
  try {
    const cert = new X509Certificate(readFileSync(file));
    return Date.parse(cert.validTo) - nowMs > RENEW_BEFORE_MS && Date.parse(cert.validFrom) <= nowMs + BACKDATE_MS;
  } catch {
    return false;
  }
}

/** True when certFile is signed by the CA, names serviceName, and matches keyFile. */
function leafReusable(ca, certFile, keyFile, serviceName, nowMs) {
  if (!stillValid(certFile, nowMs) || !existsSync(keyFile)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    return cert.verify(ca.publicKey) && cert.checkHost(serviceName) !== undefined && cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)));
  } catch {
    return false;
  }
}

/**
 * Creates (first use) or reuses the development CA and one certificate per
 * service (and per infrastructure server in `infra`, e.g. INFRA_NAMES) under
 * `dir`. A CA or certificate with 7 days or less left, or not matching its
 * key / CA, is replaced; a new CA re-issues every certificate.
 * @returns {Promise<{ dir: string, caFile: string, caKeyFile: string, services: Record<string, { certFile: string, keyFile: string }>, infra: Record<string, { certFile: string, keyFile: string }>, created: string[] }>}
 */
export async function ensurePki({ dir = PKI_DIR_DEFAULT, services = SERVICE_NAMES, infra = [], now = Date.now() } = {}) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caFile = path.join(dir, 'ca.pem');
  const caKeyFile = path.join(dir, 'ca-key.pem');
  const created = [];
  let ca;
  if (stillValid(caFile, now) && existsSync(caKeyFile)) {
    ca = await loadCa(readFileSync(caFile, 'utf8'), readFileSync(caKeyFile, 'utf8'));
  } else {
    ca = await createCa();
    writeServiceFiles(dir, 'ca', ca);
    created.push('ca');
  }
  const caCert = new X509Certificate(ca.certPem);
  const ensureLeaf = async (name, options) => {
    const certFile = path.join(dir, `${name}.pem`);
    const keyFile = path.join(dir, `${name}-key.pem`);
    if (!leafReusable(caCert, certFile, keyFile, name, now)) {
      writeServiceFiles(dir, name, await issueServiceCertificate(ca, name, options));
      created.push(name);
    }
    return { certFile, keyFile };
  };
  const result = {};
  for (const name of services) result[name] = await ensureLeaf(name);
  const infraResult = {};
  for (const name of infra) infraResult[name] = await ensureLeaf(name, { clientAuth: false });
  return { dir, caFile, caKeyFile, services: result, infra: infraResult, created };
}

/** The TLS_* environment a service process gets for its own identity. */
export function tlsEnvFor(pki, serviceName) {
  const files = pki.services[serviceName];
  if (!files) throw new Error(`pki: no certificate for service ${serviceName}`);
  return { TLS_CA_FILE: pki.caFile, TLS_CERT_FILE: files.certFile, TLS_KEY_FILE: files.keyFile };
}

// `node scripts/lib/pki.mjs [dir]` creates or refreshes the development PKI.
if (import.meta.url === `file://${process.argv[1]}`) {
  const pki = await ensurePki({ dir: process.argv[2] ?? PKI_DIR_DEFAULT, infra: INFRA_NAMES });
  console.log(`pki: ${pki.dir} (${pki.created.length ? `created ${pki.created.join(', ')}` : 'all reused'})`);
}
