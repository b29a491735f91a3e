import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RENEW_BEFORE_MS, SERVICE_NAMES, ensurePki, tlsEnvFor } from '../../../../scripts/lib/pki.mjs';

const DAY_MS = 24 * 60 * 60 * 1000;
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'wallet-pki-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('development PKI (scripts/lib/pki.mjs)', () => {
  it('creates a CA and one certificate per service: SAN = service name (+ loopback), ECDSA P-256, keys 0600', async () => {
    const pki = await ensurePki({ dir });
    expect(pki.created).toEqual(['ca', ...SERVICE_NAMES]);
    const ca = new X509Certificate(readFileSync(pki.caFile));
    expect(ca.ca).toBe(true);
    for (const name of SERVICE_NAMES) {
      const { certFile, keyFile } = pki.services[name]!;
      const cert = new X509Certificate(readFileSync(certFile));
      expect(cert.subjectAltName).toBe(`DNS:${name}, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1`);
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    }
    expect(tlsEnvFor(pki, 'bank-service')).toEqual({
      TLS_CA_FILE: path.join(dir, 'ca.pem'),
      TLS_CERT_FILE: path.join(dir, 'bank-service.pem'),
      TLS_KEY_FILE: path.join(dir, 'bank-service-key.pem'),
    });
  });

  it('reuses everything on the next run', async () => {
    const before = readFileSync(path.join(dir, 'bank-service.pem'), 'utf8');
    const pki = await ensurePki({ dir });
    expect(pki.created).toEqual([]);
    expect(readFileSync(pki.services['bank-service']!.certFile, 'utf8')).toBe(before);
  });

  it('renews certificates with 7 days or less left, keeping the CA', async () => {
    const certFile = path.join(dir, 'bank-service.pem');
    const notAfterMs = Date.parse(new X509Certificate(readFileSync(certFile)).validTo);
    const pki = await ensurePki({ dir, now: notAfterMs - RENEW_BEFORE_MS + DAY_MS });
    expect(pki.created).toEqual([...SERVICE_NAMES]);
  });

  it('replaces a CA near its end and re-issues every certificate from the new one', async () => {
    const caNotAfterMs = Date.parse(new X509Certificate(readFileSync(path.join(dir, 'ca.pem'))).validTo);
    const pki = await ensurePki({ dir, now: caNotAfterMs - RENEW_BEFORE_MS + DAY_MS });
    expect(pki.created).toEqual(['ca', ...SERVICE_NAMES]);
    const ca = new X509Certificate(readFileSync(pki.caFile));
    expect(new X509Certificate(readFileSync(pki.services['api-gateway']!.certFile)).verify(ca.publicKey)).toBe(true);
  });
});
