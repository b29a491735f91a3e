// The same mutual-TLS identity on an HTTPS hop (node https server and client).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateDnsNames, createMtls, followCertificateRotation, mtlsClientOptions, mtlsServerOptions, type Mtls } from '@wallet/platform/tls';
import { ensurePki, issueServiceCertificate, loadCa, type Pki } from '../../../../scripts/lib/pki.mjs';
import { copyIdentity, identityFiles, serialOf } from '../support/mtls-echo.js';

let dir: string;
let pki: Pki;
let server: Server;
let serverMtls: Mtls;
let stopFollowing: () => void;
let port: number;
const parties: Mtls[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'wallet-mtls-https-'));
  pki = await ensurePki({ dir: path.join(dir, 'pki'), services: ['payment-gateway-mock', 'bank-card-adapter'] });
  serverMtls = createMtls({ ...copyIdentity(pki, 'payment-gateway-mock', path.join(dir, 'server')), reloadIntervalMs: 0, reloadOnSighup: false });
  server = createServer(mtlsServerOptions(serverMtls.provider), (req, res) => {
    const caller = certificateDnsNames((req.socket as TLSSocket).getPeerCertificate())[0] ?? null;
    res.end(JSON.stringify({ caller }));
  });
  stopFollowing = followCertificateRotation(server, serverMtls.provider);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  stopFollowing?.();
  await new Promise((resolve) => server?.close(resolve));
  serverMtls?.close();
  for (const mtls of parties) mtls.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** One request on a new connection; the answer, or the error's message. */
async function get(options: object): Promise<{ body?: string; serverSerial?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout: 5_000, ...options }, (res) => {
      const serverSerial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ body, serverSerial }));
    });
    req.on('error', (error) => resolve({ error: error.message }));
    req.end();
  });
}

function adapter(): Mtls {
  const mtls = createMtls({ ...copyIdentity(pki, 'bank-card-adapter', path.join(dir, 'adapter')), reloadIntervalMs: 0, reloadOnSighup: false });
  parties.push(mtls);
  return mtls;
}

describe('mutual TLS over HTTPS', () => {
  it('serves a client with a certificate from the CA and names it', async () => {
    const answer = await get(mtlsClientOptions(adapter().provider, 'payment-gateway-mock'));
    expect(answer).toEqual({ body: JSON.stringify({ caller: 'bank-card-adapter' }), serverSerial: expect.any(String) });
  });

  it('refuses a client without a certificate', async () => {
    const answer = await get({ ca: readFileSync(pki.caFile), servername: 'payment-gateway-mock' });
    expect(answer.body).toBeUndefined();
    expect(answer.error).toBeDefined();
  });

  it('a client refuses a server that is not the one it meant', async () => {
    const answer = await get(mtlsClientOptions(adapter().provider, 'identity-service'));
    expect(answer.error).toMatch(/identity-service/);
  });

  it('presents a renewed server certificate to new connections after reload', async () => {
    const ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
    const renewed = await issueServiceCertificate(ca, 'payment-gateway-mock');
    identityFiles(pki.caFile, path.join(dir, 'server'), 'payment-gateway-mock', renewed);
    expect(serverMtls.provider.reload().outcome).toBe('reloaded');
    const client = adapter();
    const answer = await get(mtlsClientOptions(client.provider, 'payment-gateway-mock'));
    expect(answer.serverSerial).toBe(serialOf(renewed.certPem));
  });
});
