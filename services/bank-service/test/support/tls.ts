// Certificate rotation helpers for the bank's tests: a private copy of the
// bank's certificate files that a test may replace, and the serial number a
// new connection is served (seen through a plain TLS handshake as the gateway).
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, connect as tlsConnect } from 'node:tls';
import { issueServiceCertificate, loadCa, writeServiceFiles } from '../../../../scripts/lib/pki.mjs';
import { testPki } from '../../../../test/support/pki.js';

const PROBE_TIMEOUT_MS = 10_000;

const normalSerial = (serial: string) => serial.toUpperCase().replace(/^0+/, '');

/** The serial number of a PEM certificate file's certificate. */
export function certificateSerial(pem: string | Buffer): string {
  return normalSerial(new X509Certificate(pem).serialNumber);
}

export interface RotatableCertificate {
  dir: string;
  /** TLS_CERT_FILE / TLS_KEY_FILE of the copy (TLS_CA_FILE stays the run's CA). */
  env: { TLS_CERT_FILE: string; TLS_KEY_FILE: string };
  serial: string;
  /** Writes a new bank-service certificate from the same CA over the copy (atomically, key first); returns its serial. */
  rotate(): Promise<string>;
}

/** A copy of the bank's test certificate in a temporary folder (remove `dir` when done). */
export async function rotatableBankCertificate(): Promise<RotatableCertificate> {
  const pki = await testPki();
  const own = pki.services['bank-service']!;
  const dir = mkdtempSync(join(tmpdir(), 'bank-rotation-'));
  const env = { TLS_CERT_FILE: join(dir, 'bank-service.pem'), TLS_KEY_FILE: join(dir, 'bank-service-key.pem') };
  copyFileSync(own.keyFile, env.TLS_KEY_FILE);
  copyFileSync(own.certFile, env.TLS_CERT_FILE);
  return {
    dir,
    env,
    serial: certificateSerial(readFileSync(own.certFile)),
    rotate: async () => {
      const ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
      const pair = await issueServiceCertificate(ca, 'bank-service');
      writeServiceFiles(dir, 'bank-service', pair);
      return certificateSerial(pair.certPem);
    },
  };
}

/** The serial number of the certificate the bank on `port` presents to a new connection (handshake as the gateway). */
export async function servedSerial(port: number): Promise<string> {
  const pki = await testPki();
  const gateway = pki.services['api-gateway']!;
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(
      {
        host: '127.0.0.1',
        port,
        ca: readFileSync(pki.caFile),
        cert: readFileSync(gateway.certFile),
        key: readFileSync(gateway.keyFile),
        servername: 'bank-service',
        ALPNProtocols: ['h2'],
        checkServerIdentity: (_host, cert) => checkServerIdentity('bank-service', cert),
      },
      () => {
        const serial = socket.getPeerCertificate().serialNumber;
        socket.destroy();
        resolve(normalSerial(serial));
      },
    );
    socket.setTimeout(PROBE_TIMEOUT_MS, () => socket.destroy(new Error('TLS probe timed out')));
    socket.once('error', reject);
  });
}
