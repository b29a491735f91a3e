import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { EXIT_CONFIG } from '@wallet/platform';
import { freePort, startService, waitFor, type ServiceProcess } from '@wallet/testkit';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { issueServiceCertificate, loadCa, writeServiceFiles } from '../../../../scripts/lib/pki.mjs';
import { testPki, testTlsEnv } from '../../../../test/support/pki.js';
import { startTestIssuer } from '../../../../test/support/test-issuer.js';

// The built process (dist/main.js, built by `tsc -b` in npm test): wiring,
// listening line, readiness without a bank, graceful stop on SIGTERM.
const script = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

function parseLine(line: string): { msg?: string; httpPort?: number } | undefined {
  try {
    return JSON.parse(line) as { msg?: string; httpPort?: number };
  } catch {
    return undefined; // e.g. a Node warning on stderr
  }
}

/** SHA-256 fingerprint of the certificate a new connection is shown (verified against the CA). */
function servedFingerprint(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'api-gateway' }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', reject);
  });
}

describe('api-gateway process', () => {
  let service: ServiceProcess | undefined;
  afterEach(async () => {
    await service?.kill();
  });

  it('starts on a free port, answers, reports an absent bank as not ready, and stops cleanly on SIGTERM', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const issuer = await startTestIssuer();
    service = startService('api-gateway', script, {
      ...(await testTlsEnv('api-gateway')),
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: issuer.audience,
      GATEWAY_HTTP_PORT: '0',
      // No load balancer in front: nothing to drain from (the drain has its own test).
      GATEWAY_DRAIN_MS: '0',
      LOG_LEVEL: 'trace',
      GATEWAY_BANK_GRPC_ADDRESS: closed,
      GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: closed,
      GATEWAY_ANALYTICS_GRPC_ADDRESS: closed,
      GATEWAY_WEBHOOK_GRPC_ADDRESS: closed,
      // A closed port answers at once; the bound only has to outlast the first TLS call's warm-up on a busy machine.
      GATEWAY_READINESS_TIMEOUT_MS: '5000',
    });
    const listening = await waitFor(() => service!.logs.map(parseLine).find((l) => l?.msg === 'listening'), {
      timeoutMs: 60_000,
      what: 'the listening log line',
    });
    const base = `http://127.0.0.1:${listening.httpPort}`;
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-request-id')).toBeTruthy();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'unavailable', checks: { bank: 'UNAVAILABLE' } });
    // Without a token: 401, and the adapter is never asked.
    const anonymous = await fetch(`${base}/accounts/123e4567-e89b-12d3-a456-426614174000/balance`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="wallet"');
    // A top-up whose adapter is unreachable: even at trace level, no card data (nor the token) in the logs.
    const token = await issuer.sign({ sub: '11111111-1111-4111-8111-111111111111' });
    const topUp = await fetch(`${base}/accounts/123e4567-e89b-12d3-a456-426614174000/topup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': 'main-1', 'x-request-id': 'main-test-1', authorization: `Bearer ${token}` },
      body: JSON.stringify({ amount: '5.00', card: { number: '4000056655665556', expiryMonth: 12, expiryYear: 2030, cvc: '737' } }),
    });
    expect(topUp.status).toBe(503);
    expect(topUp.headers.get('x-request-id')).toBe('main-test-1');
    expect(await service.stop()).toBe(0);
    expect(service.logs.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
    expect(service.logs.some((line) => line.includes('main-test-1'))).toBe(true);
    expect(service.logs.join('\n')).not.toMatch(/4000056655665556|"737"/);
    expect(service.logs.join('\n')).not.toContain(token.split('.')[2]);
    await issuer.close();
  }, 120_000);

  it('SIGTERM drains: /readyz answers 503 at once while requests are still served for GATEWAY_DRAIN_MS, then it exits 0', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    service = startService('api-gateway', script, {
      ...(await testTlsEnv('api-gateway')),
      GATEWAY_HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      GATEWAY_BANK_GRPC_ADDRESS: closed,
      GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: closed,
      GATEWAY_ANALYTICS_GRPC_ADDRESS: closed,
      GATEWAY_WEBHOOK_GRPC_ADDRESS: closed,
      // Long enough for the checks below on a busy machine; they take milliseconds.
      GATEWAY_DRAIN_MS: '8000',
      GATEWAY_SHUTDOWN_TIMEOUT_MS: '20000',
    });
    const listening = await waitFor(() => service!.logs.map(parseLine).find((l) => l?.msg === 'listening'), { timeoutMs: 60_000, what: 'listening' });
    const base = `http://127.0.0.1:${listening.httpPort}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const stopped = service.stop(30_000);
    await waitFor(() => service!.logs.some((line) => line.includes('draining')), { timeoutMs: 10_000, what: 'the drain to begin' });
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    // The detail (development: on this port) also lists every circuit breaker.
    expect(await ready.json()).toEqual({
      status: 'unavailable',
      checks: { gateway: 'DRAINING' },
      breakers: { bank: 'closed', card_adapter: 'closed', analytics: 'closed', webhooks: 'closed' },
    });
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('connection')).toBe('close');
    expect(await stopped).toBe(0);
    expect(service.logs.some((line) => line.includes('"msg":"stopped"'))).toBe(true);
  }, 120_000);

  async function exitOf(started: ServiceProcess): Promise<number | null> {
    const exited = await waitFor(() => (started.child.exitCode !== null ? { code: started.child.exitCode } : undefined), {
      timeoutMs: 60_000,
      what: 'the process to exit',
    });
    return exited.code;
  }

  it('SIGHUP (certificate reload) before any gRPC call does not end the process', async () => {
    service = startService('api-gateway', script, {
      ...(await testTlsEnv('api-gateway')),
      GATEWAY_HTTP_PORT: '0',
      // No load balancer in front: nothing to drain from (the drain has its own test).
      GATEWAY_DRAIN_MS: '0',
      LOG_LEVEL: 'info',
      GATEWAY_BANK_GRPC_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    const listening = await waitFor(() => service!.logs.map(parseLine).find((l) => l?.msg === 'listening'), { timeoutMs: 60_000, what: 'listening' });
    service.child.kill('SIGHUP');
    // Answers after the signal was handled (node's default for SIGHUP without a listener is to exit).
    await waitFor(async () => (await fetch(`http://127.0.0.1:${listening.httpPort}/healthz`)).status === 200, { timeoutMs: 10_000, what: '/healthz' });
    expect(service.child.exitCode).toBeNull();
    expect(service.child.signalCode).toBeNull();
    expect(await service.stop()).toBe(0);
  }, 120_000);

  it('refuses to start with an invalid variable, naming it', async () => {
    service = startService('api-gateway', script, { ...(await testTlsEnv('api-gateway')), GATEWAY_HTTP_PORT: 'eighty', LOG_LEVEL: 'info' });
    expect(await exitOf(service)).toBe(EXIT_CONFIG);
    expect(service.logs.join('\n')).toContain('GATEWAY_HTTP_PORT');
  }, 120_000);

  it('refuses to start without the mutual-TLS files (gRPC is never plaintext), naming TLS_CA_FILE', async () => {
    service = startService('api-gateway', script, { GATEWAY_HTTP_PORT: '0', LOG_LEVEL: 'info' });
    expect(await exitOf(service)).toBe(EXIT_CONFIG);
    expect(service.logs.join('\n')).toMatch(/TLS_CA_FILE: missing/);
  }, 120_000);

  it('serves HTTPS on the public port and takes a rotated certificate on SIGHUP without a restart', async () => {
    const pki = await testPki();
    const dir = mkdtempSync(path.join(tmpdir(), 'gateway-main-https-'));
    const certFile = path.join(dir, 'public.pem');
    const keyFile = path.join(dir, 'public-key.pem');
    copyFileSync(pki.services['api-gateway']!.certFile, certFile);
    copyFileSync(pki.services['api-gateway']!.keyFile, keyFile);
    const closed = `127.0.0.1:${await freePort()}`;
    service = startService('api-gateway', script, {
      ...(await testTlsEnv('api-gateway')),
      HTTPS_CERT_FILE: certFile,
      HTTPS_KEY_FILE: keyFile,
      GATEWAY_HTTP_PORT: '0',
      // No load balancer in front: nothing to drain from (the drain has its own test).
      GATEWAY_DRAIN_MS: '0',
      LOG_LEVEL: 'info',
      GATEWAY_BANK_GRPC_ADDRESS: closed,
      GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: closed,
      GATEWAY_ANALYTICS_GRPC_ADDRESS: closed,
      GATEWAY_WEBHOOK_GRPC_ADDRESS: closed,
    });
    const listening = await waitFor(() => service!.logs.map(parseLine).find((l) => l?.msg === 'listening'), { timeoutMs: 60_000, what: 'listening' });
    const port = listening.httpPort!;
    const ca = readFileSync(pki.caFile);
    const agent = new Agent({ connect: { ca, servername: 'api-gateway' } });
    const health = await request(`https://127.0.0.1:${port}/healthz`, { dispatcher: agent });
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    await agent.close();

    const realCa = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
    const next = await issueServiceCertificate(realCa, 'api-gateway');
    const written = writeServiceFiles(path.join(dir, 'next'), 'api-gateway', next);
    copyFileSync(written.keyFile, keyFile);
    copyFileSync(written.certFile, certFile);
    const expected = new X509Certificate(next.certPem).fingerprint256;
    service.child.kill('SIGHUP');
    await waitFor(async () => (await servedFingerprint(port, ca)) === expected, { timeoutMs: 30_000, what: 'the rotated certificate' });
    expect(service.child.exitCode).toBeNull();
    expect(await service.stop()).toBe(0);
  }, 120_000);
});
