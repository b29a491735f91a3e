import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { connect as http2Connect } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { waitFor } from '@wallet/testkit';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { issueServiceCertificate, loadCa, writeServiceFiles } from '../../../../scripts/lib/pki.mjs';
import { testPki } from '../../../../test/support/pki.js';
import { loadPublicTls, type PublicTls } from '../../src/public-tls.js';
import { ALICE, startTestGateway, type TestGateway } from '../support/gateway.js';

// The public port over HTTPS (HTTPS_CERT_FILE / HTTPS_KEY_FILE): HTTP/1.1 and
// HTTP/2 on the same port, the certificate verified against the test CA, and a
// rotated certificate picked up by new connections without a restart.

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

/** The gateway's test certificate, copied to a folder the test may rewrite. */
async function httpsFiles(): Promise<{ certFile: string; keyFile: string; ca: Buffer }> {
  const pki = await testPki();
  const dir = mkdtempSync(path.join(tmpdir(), 'gateway-https-'));
  const certFile = path.join(dir, 'public.pem');
  const keyFile = path.join(dir, 'public-key.pem');
  copyFileSync(pki.services['api-gateway']!.certFile, certFile);
  copyFileSync(pki.services['api-gateway']!.keyFile, keyFile);
  return { certFile, keyFile, ca: readFileSync(pki.caFile) };
}

async function httpsGateway(): Promise<{ gw: TestGateway; tls: PublicTls; port: number; ca: Buffer; certFile: string; keyFile: string }> {
  const files = await httpsFiles();
  const tls = loadPublicTls({ HTTPS_CERT_FILE: files.certFile, HTTPS_KEY_FILE: files.keyFile, TLS_RELOAD_INTERVAL_MS: 0 }, pino({ level: 'silent' }))!;
  const gw = await startTestGateway({ https: tls.identity() });
  await gw.app.listen({ host: '127.0.0.1', port: 0 });
  tls.follow(gw.app.server as never);
  cleanups.push(() => gw.close(), () => tls.close());
  return { gw, tls, port: (gw.app.server.address() as AddressInfo).port, ...files };
}

/** SHA-256 fingerprint of the certificate a new TLS connection is shown (verified against the CA). */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'api-gateway', ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

function http2Get(port: number, ca: Buffer, urlPath: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; alpn: string | undefined }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(`https://127.0.0.1:${port}`, { ca, servername: 'api-gateway' });
    session.once('error', reject);
    const stream = session.request({ ':path': urlPath, ...headers });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (responseHeaders) => {
      status = Number(responseHeaders[':status']);
    });
    stream.on('data', (chunk: string) => {
      body += chunk;
    });
    stream.once('error', reject);
    stream.on('end', () => {
      const alpn = session.alpnProtocol;
      session.close();
      resolve({ status, body, alpn });
    });
  });
}

describe('public HTTPS (HTTPS_CERT_FILE / HTTPS_KEY_FILE)', () => {
  it('answers /healthz and an authenticated call over HTTP/1.1, the certificate verified against the CA', async () => {
    const { gw, port, ca } = await httpsGateway();
    const agent = new Agent({ connect: { ca, servername: 'api-gateway' } });
    cleanups.push(() => agent.close());
    const health = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent });
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    const balance = await request(`https://127.0.0.1:${port}/accounts/${ALICE}/balance`, {
      dispatcher: agent,
      headers: { authorization: await gw.bearer() },
    });
    expect(balance.statusCode).toBe(200);
    expect(await balance.body.json()).toMatchObject({ accountId: ALICE, balance: '1000.00', currency: 'USD' });
    const anonymous = await request(`https://127.0.0.1:${port}/accounts/${ALICE}/balance`, { dispatcher: agent });
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.dump();
  });

  it('answers /healthz and an authenticated call over HTTP/2 (ALPN h2)', async () => {
    const { gw, port, ca } = await httpsGateway();
    const health = await http2Get(port, ca, '/healthz');
    expect(health).toMatchObject({ status: 200, alpn: 'h2' });
    const balance = await http2Get(port, ca, `/accounts/${ALICE}/balance`, { authorization: await gw.bearer() });
    expect(balance.status).toBe(200);
    expect(JSON.parse(balance.body)).toMatchObject({ accountId: ALICE, balance: '1000.00' });
  });

  it('refuses a client that does not trust the CA (the certificate is not a public one)', async () => {
    const { port } = await httpsGateway();
    await expect(request(`https://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  });

  it('a rotated certificate is served to new connections without a restart; a half-written one is ignored', async () => {
    const { tls, port, ca, certFile, keyFile } = await httpsGateway();
    const before = await servedFingerprint(port, ca);
    expect(before).toBe(new X509Certificate(readFileSync(certFile)).fingerprint256);

    const pki = await testPki();
    const realCa = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
    const next = await issueServiceCertificate(realCa, 'api-gateway');
    const written = writeServiceFiles(path.join(path.dirname(certFile), 'next'), 'api-gateway', next);
    // A rotation caught half-way (new key, old certificate) must not be published.
    copyFileSync(written.keyFile, keyFile);
    expect(tls.provider.reload().outcome).toBe('failed');
    expect(await servedFingerprint(port, ca)).toBe(before);

    copyFileSync(written.certFile, certFile);
    expect(tls.provider.reload().outcome).toBe('reloaded');
    const expected = new X509Certificate(next.certPem).fingerprint256;
    await waitFor(async () => (await servedFingerprint(port, ca)) === expected, { timeoutMs: 10_000, what: 'the new certificate on a new connection' });
    expect((await http2Get(port, ca, '/healthz')).status).toBe(200);
  });
});
