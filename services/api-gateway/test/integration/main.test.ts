import { fileURLToPath } from 'node:url';
import { EXIT_CONFIG } from '@wallet/platform';
import { freePort, startService, waitFor, type ServiceProcess } from '@wallet/testkit';
import { afterEach, describe, expect, it } from 'vitest';
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

describe('api-gateway process', () => {
  let service: ServiceProcess | undefined;
  afterEach(async () => {
    await service?.kill();
  });

  it('starts on a free port, answers, reports an absent bank as not ready, and stops cleanly on SIGTERM', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const issuer = await startTestIssuer();
    service = startService('api-gateway', script, {
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: issuer.audience,
      GATEWAY_HTTP_PORT: '0',
      LOG_LEVEL: 'trace',
      GATEWAY_BANK_GRPC_ADDRESS: closed,
      GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: closed,
      GATEWAY_ANALYTICS_GRPC_ADDRESS: closed,
      GATEWAY_READINESS_TIMEOUT_MS: '500',
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

  it('refuses to start with an invalid variable, naming it', async () => {
    service = startService('api-gateway', script, { GATEWAY_HTTP_PORT: 'eighty', LOG_LEVEL: 'info' });
    const exited = await waitFor(() => (service!.child.exitCode !== null ? { code: service!.child.exitCode } : undefined), {
      timeoutMs: 60_000,
      what: 'the process to exit',
    });
    expect(exited.code).toBe(EXIT_CONFIG);
    expect(service.logs.join('\n')).toContain('GATEWAY_HTTP_PORT');
  }, 120_000);
});
