// Mutual TLS on a real loopback gRPC server (grpc-js), with certificates from
// scripts/lib/pki.mjs: who is refused at the handshake, who is refused by the
// per-RPC caller table, and rotation of both sides without a restart.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGrpcError } from '@wallet/platform';
import { CALLER_NOT_ALLOWED, createMtls, type Mtls } from '@wallet/platform/tls';
import { createCa, ensurePki, issueServiceCertificate, loadCa, type Pki, type PkiCa } from '../../../../scripts/lib/pki.mjs';
import {
  callEcho,
  callHealth,
  rawHandshake,
  copyIdentity,
  identityFiles,
  openEchoClient,
  serialOf,
  startEchoServer,
  waitFor,
  type EchoServer,
} from '../support/mtls-echo.js';

const DAY_MS = 24 * 60 * 60 * 1000;
let dir: string;
let pki: Pki;
let ca: PkiCa;
let server: EchoServer;
let serverFiles: { caFile: string; certFile: string; keyFile: string };
const clients: Mtls[] = [];

/** A caller's credentials from its files, expecting the server to be bank-service. */
function clientOf(files: { caFile: string; certFile: string; keyFile: string }, serverName = 'bank-service') {
  const mtls = createMtls({ ...files, reloadIntervalMs: 0, reloadOnSighup: false });
  clients.push(mtls);
  return { mtls, credentials: mtls.channelCredentials(serverName) };
}

function identityOf(service: string) {
  return copyIdentity(pki, service, path.join(dir, service));
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'wallet-mtls-'));
  pki = await ensurePki({ dir: path.join(dir, 'pki'), services: ['bank-service', 'bank-card-adapter', 'api-gateway'] });
  ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
  serverFiles = identityOf('bank-service');
  server = await startEchoServer(serverFiles);
});

afterAll(async () => {
  await server?.close();
  for (const mtls of clients) mtls.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mutual TLS handshake', () => {
  it('refuses a client that presents no certificate, before any handler runs', async () => {
    const before = server.handled();
    const noCertificate = credentials.createSsl(readFileSync(pki.caFile), null, null, {
      checkServerIdentity: () => undefined,
    });
    const result = await callEcho(server.port, noCertificate, 'getBalance');
    expect(result.error?.code).toBe(status.UNAVAILABLE);
    expect(server.handled()).toBe(before);
    expect(await rawHandshake(server.port, { caFile: pki.caFile })).toMatch(/certificate required/);
    // The control: the same raw handshake with a valid certificate is accepted.
    expect(await rawHandshake(server.port, identityOf('bank-card-adapter'))).toBe('accepted');
  });

  it('refuses a plaintext client', async () => {
    const result = await callEcho(server.port, credentials.createInsecure(), 'getBalance');
    expect(result.error?.code).toBe(status.UNAVAILABLE);
  });

  it('refuses a certificate from another CA, even with an allowed service name', async () => {
    const otherCa = await createCa({ name: 'someone else' });
    const pair = await issueServiceCertificate(otherCa, 'bank-card-adapter');
    const files = identityFiles(pki.caFile, path.join(dir, 'foreign'), 'bank-card-adapter', pair);
    const { credentials: foreign } = clientOf(files);
    const before = server.handled();
    const result = await callEcho(server.port, foreign, 'depositMoney');
    expect(result.error?.code).toBe(status.UNAVAILABLE);
    expect(server.handled()).toBe(before);
    expect(await rawHandshake(server.port, files)).toMatch(/^(?!accepted$|no answer)/);
  });

  it('refuses an expired certificate of the right service from the right CA', async () => {
    const now = Date.now();
    const pair = await issueServiceCertificate(ca, 'bank-card-adapter', { notBefore: new Date(now - 3 * DAY_MS), notAfter: new Date(now - DAY_MS) });
    const files = identityFiles(pki.caFile, path.join(dir, 'expired'), 'bank-card-adapter', pair);
    const { credentials: expired } = clientOf(files);
    const before = server.handled();
    const result = await callEcho(server.port, expired, 'depositMoney');
    expect(result.error?.code).toBe(status.UNAVAILABLE);
    expect(server.handled()).toBe(before);
    expect(await rawHandshake(server.port, files)).toMatch(/^(?!accepted$|no answer)/);
  });

  it('a client refuses a server whose certificate names another service', async () => {
    const { credentials: expectsAnalytics } = clientOf(identityOf('api-gateway'), 'analytics-service');
    const before = server.handled();
    const result = await callEcho(server.port, expectsAnalytics, 'getBalance');
    expect(result.error?.code).toBe(status.UNAVAILABLE);
    expect(server.handled()).toBe(before);
  });
});

describe('per-RPC caller table', () => {
  it('lets the allowed caller through and tells the handler who it is', async () => {
    const { credentials: adapter } = clientOf(identityOf('bank-card-adapter'));
    const result = await callEcho(server.port, adapter, 'depositMoney');
    expect(result.error).toBeNull();
    expect(result.seen).toEqual({ caller: 'bank-card-adapter', serial: serialOf(readFileSync(pki.services['bank-card-adapter']!.certFile, 'utf8')) });
  });

  it('finds the HTTP/2 session under a real grpc-js call, so the caller is remembered per connection', async () => {
    const { credentials: gateway } = clientOf(identityOf('api-gateway'));
    const before = server.sessionsFound();
    const result = await callEcho(server.port, gateway, 'getBalance');
    expect(result.seen?.caller).toBe('api-gateway');
    expect(server.sessionsFound()).toBe(before + 1);
  });

  it('refuses a valid certificate of the wrong service with PERMISSION_DENIED / CALLER_NOT_ALLOWED, before the handler', async () => {
    const { credentials: gateway } = clientOf(identityOf('api-gateway'));
    const before = server.handled();
    const result = await callEcho(server.port, gateway, 'depositMoney');
    expect(result.error?.code).toBe(status.PERMISSION_DENIED);
    const parsed = parseGrpcError(result.error);
    expect(parsed.reason).toBe(CALLER_NOT_ALLOWED);
    expect(parsed.domain).toBe('bank.wallet');
    expect(server.handled()).toBe(before);
    expect(server.denials).toContainEqual({ rpc: 'depositMoney', caller: 'api-gateway', reason: CALLER_NOT_ALLOWED });
    // The same caller may call what its row allows.
    expect((await callEcho(server.port, gateway, 'getBalance')).error).toBeNull();
  });

  it('denies an RPC missing from the table to every caller', async () => {
    const { credentials: adapter } = clientOf(identityOf('bank-card-adapter'));
    const result = await callEcho(server.port, adapter, 'unlisted');
    expect(result.error?.code).toBe(status.PERMISSION_DENIED);
    expect(parseGrpcError(result.error).reason).toBe(CALLER_NOT_ALLOWED);
  });

  it('answers grpc.health.v1 to any authenticated service, and not without a certificate', async () => {
    const { credentials: gateway } = clientOf(identityOf('api-gateway'));
    expect(await callHealth(server.port, gateway)).toBeNull();
    const anonymous = credentials.createSsl(readFileSync(pki.caFile), null, null, { checkServerIdentity: () => undefined });
    expect((await callHealth(server.port, anonymous))?.code).toBe(status.UNAVAILABLE);
  });
});

describe('certificate rotation without restart', () => {
  it('the server presents a renewed certificate to new connections after SIGHUP; open connections keep working', async () => {
    const { credentials: gateway } = clientOf(identityOf('api-gateway'));
    const open = openEchoClient(server.port, gateway);
    const first = await callEcho(server.port, gateway, 'getBalance', open);
    expect(first.error).toBeNull();
    expect(first.serverSerial).toBe(serialOf(readFileSync(serverFiles.certFile, 'utf8')));

    const renewed = await issueServiceCertificate(ca, 'bank-service');
    identityFiles(serverFiles.caFile, path.dirname(serverFiles.certFile), 'bank-service', renewed);
    process.kill(process.pid, 'SIGHUP');
    await waitFor(() => server.mtls.provider.current().cert.toString() === renewed.certPem, 'server reloads on SIGHUP');

    const fresh = await callEcho(server.port, gateway, 'getBalance');
    expect(fresh.error).toBeNull();
    expect(fresh.serverSerial).toBe(serialOf(renewed.certPem));
    const again = await callEcho(server.port, gateway, 'getBalance', open);
    expect(again.error).toBeNull();
    open.close();
  });

  it('a client presents its renewed certificate on a new connection after reload', async () => {
    const files = identityOf('bank-card-adapter');
    const { mtls, credentials: adapter } = clientOf(files);
    const renewed = await issueServiceCertificate(ca, 'bank-card-adapter');
    identityFiles(files.caFile, path.dirname(files.certFile), 'bank-card-adapter', renewed);
    expect(mtls.provider.reload()).toEqual({ outcome: 'reloaded', notAfter: expect.any(String) });

    const result = await callEcho(server.port, adapter, 'depositMoney');
    expect(result.error).toBeNull();
    expect(result.seen).toEqual({ caller: 'bank-card-adapter', serial: serialOf(renewed.certPem) });
  });

  it('keeps serving with the current certificate when the new files do not match', async () => {
    const files = identityOf('bank-card-adapter');
    const { mtls, credentials: adapter } = clientOf(files);
    const before = mtls.provider.current().cert;
    const other = await issueServiceCertificate(ca, 'bank-card-adapter');
    // A new certificate whose key has not been written yet: a half-finished rotation.
    writeFileSync(files.certFile, other.certPem);
    const event = mtls.provider.reload();
    expect(event.outcome).toBe('failed');
    expect(mtls.provider.current().cert.equals(before)).toBe(true);
    expect((await callEcho(server.port, adapter, 'depositMoney')).error).toBeNull();
  });
});
