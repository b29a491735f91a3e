// The mock over HTTPS (mutual TLS, as bank-card-adapter, with the API key)
// with its ledger in PostgreSQL (schema payment_gateway_mock): the protocol a
// card adapter speaks, bad requests, the ledger, readiness and metrics on the
// ops port, a charge that survives a restart, and the real process (dist/main.js).
import { fileURLToPath } from 'node:url';
import { createLogger } from '@wallet/platform';
import { createTestDatabase, freePort, startService, waitForHttpOk, type ServiceProcess, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { loadMockConfig } from '../../src/config.js';
import { startPaymentGatewayMock, type RunningMock } from '../../src/service.js';
import { call, closeClients, TEST_API_KEY } from '../support/clients.js';
import { dropTestDatabase } from '../support/db.js';

const MOCK_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const logger = createLogger('test', 'silent');

let db: TestDatabase;
let mock: RunningMock;
let base: string;
let ops: string;

async function startMock(): Promise<RunningMock> {
  const config = loadMockConfig({
    DATABASE_URL: db.url,
    PAYMENT_GATEWAY_MOCK_HTTP_PORT: '0',
    PAYMENT_GATEWAY_MOCK_OPS_PORT: '0',
    PAYMENT_GATEWAY_MOCK_LATE_CHARGE_DELAY_MS: '100',
    PAYMENT_GATEWAY_MOCK_API_KEY: TEST_API_KEY,
    ...(await testTlsEnv('payment-gateway-mock')),
  });
  const running = await startPaymentGatewayMock(config, logger);
  base = `https://127.0.0.1:${running.server.port}`;
  ops = `http://127.0.0.1:${running.ops.port}`;
  return running;
}

/** As the card adapter (certificate + API key). */
const fetch = (url: string, init?: Parameters<typeof call>[1]) => call(url, init);

function charge(key: string, number = '4242424242424242', amountMinor = '1000') {
  return fetch(`${base}/v1/charges`, {
    method: 'POST',
    headers: { 'idempotency-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ amountMinor, currency: 'USD', card: { number, expiryMonth: 12, expiryYear: 2030, cvc: '123' } }),
  });
}

beforeAll(async () => {
  db = await createTestDatabase('payment_gateway_mock');
  mock = await startMock();
});

afterAll(async () => {
  await mock?.stop();
  await closeClients();
  await dropTestDatabase(db);
});

describe('payment gateway mock over HTTP', () => {
  it('charges once per key, finds the charge by key, refunds once', async () => {
    const first = (await (await charge('k1')).json()) as { chargeId: string; status: string };
    const again = (await (await charge('k1')).json()) as { chargeId: string };
    expect(first.status).toBe('succeeded');
    expect(again.chargeId).toBe(first.chargeId);
    expect(await (await fetch(`${base}/v1/charges?idempotency_key=k1`)).json()).toMatchObject({ chargeId: first.chargeId });
    expect((await fetch(`${base}/v1/charges?idempotency_key=none`)).status).toBe(404);
    const refund = await fetch(`${base}/v1/charges/${first.chargeId}/refunds`, { method: 'POST', headers: { 'idempotency-key': 'k1-r' } });
    const refundAgain = await fetch(`${base}/v1/charges/${first.chargeId}/refunds`, { method: 'POST', headers: { 'idempotency-key': 'k1-r' } });
    expect(((await refund.json()) as { refundId: string }).refundId).toBe(((await refundAgain.json()) as { refundId: string }).refundId);
  });

  it('answers a refused refund with 422 refund_declined, and a key reused for another charge with 409', async () => {
    const stuck = (await (await charge('stuck', '4000000000005126')).json()) as { chargeId: string };
    const refused = await fetch(`${base}/v1/charges/${stuck.chargeId}/refunds`, { method: 'POST', headers: { 'idempotency-key': 'stuck-r' } });
    expect(refused.status).toBe(422);
    expect(await refused.json()).toMatchObject({ error: { code: 'refund_declined', kind: 'rejected' } });
    expect((await charge('stuck', '4000000000005126', '2000')).status).toBe(409);
  });

  it('refunds part of a charge with {amountMinor}, finds a refund by its key, refuses more than the charge with 422', async () => {
    const paid = (await (await charge('partial')).json()) as { chargeId: string };
    const refund = (k: string, body?: unknown) =>
      fetch(`${base}/v1/charges/${paid.chargeId}/refunds`, { method: 'POST', headers: { 'idempotency-key': k, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const part = await refund('partial-r1', { amountMinor: '250' });
    expect(part.status).toBe(200);
    const made = (await part.json()) as { refundId: string; amountMinor: string };
    expect(made.amountMinor).toBe('250');
    expect(await (await fetch(`${base}/v1/refunds?idempotency_key=partial-r1`)).json()).toMatchObject({ refundId: made.refundId, chargeId: paid.chargeId, amountMinor: '250' });
    expect((await fetch(`${base}/v1/refunds?idempotency_key=none`)).status).toBe(404);
    expect((await fetch(`${base}/v1/refunds`)).status).toBe(400);
    const tooMuch = await refund('partial-r2', { amountMinor: '751' });
    expect(tooMuch.status).toBe(422);
    expect(await tooMuch.json()).toMatchObject({ error: { code: 'refund_exceeds_charge', kind: 'rejected' } });
    expect((await refund('partial-r3', { amountMinor: 5 })).status).toBe(400);
    expect((await refund('partial-r3', [])).status).toBe(400);
    expect(((await (await refund('partial-r4')).json()) as { amountMinor: string }).amountMinor).toBe('750');
  });

  it('drops the connection after charging the fail-after-charge card', async () => {
    await expect(charge('dropped', '4000000000001505')).rejects.toThrow();
    expect((await fetch(`${base}/v1/charges?idempotency_key=dropped`)).status).toBe(200);
  });

  it('answers 400 to bad requests and 404 to unknown routes; never stores the card number', async () => {
    expect((await fetch(`${base}/v1/charges`, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await fetch(`${base}/v1/charges`, { method: 'POST', headers: { 'idempotency-key': 'k' }, body: 'nope' })).status).toBe(400);
    expect((await charge('bad-number', '12')).status).toBe(400);
    expect((await charge('bad-amount', '4242424242424242', '-5')).status).toBe(400);
    const huge = await fetch(`${base}/v1/charges`, { method: 'POST', headers: { 'idempotency-key': 'big' }, body: 'x'.repeat(64 * 1024) });
    expect(huge.status).toBe(400);
    expect((await fetch(`${base}/v1/charges`)).status).toBe(400);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    const ledger = await (await fetch(`${base}/v1/ledger?limit=1000`)).text();
    expect(ledger).toContain('"amountMinor":"1000"');
    expect(ledger).not.toContain('4242424242424242');
    const { rows } = await mock.pool.query<{ t: string }>('SELECT c::text AS t FROM payment_gateway_mock.charges c');
    expect(rows.map((r) => r.t).join('\n')).not.toContain('4242424242424242');
  });

  it('serves /healthz on the API port; /healthz, /readyz (database) and /metrics on the plain ops port', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await globalThis.fetch(`${ops}/healthz`)).status).toBe(200);
    expect(await (await globalThis.fetch(`${ops}/readyz`)).json()).toMatchObject({ checks: { database: 'ok' } });
    const metrics = await (await globalThis.fetch(`${ops}/metrics`)).text();
    expect(metrics).toMatch(/payment_gateway_mock_calls_total\{[^}]*operation="charge"/);
    expect(metrics).toContain('tls_certificate_not_after_seconds');
  });

  it('keeps its ledger across a restart', async () => {
    const before = (await (await charge('survives')).json()) as { chargeId: string };
    await mock.stop();
    mock = await startMock();
    expect(await (await fetch(`${base}/v1/charges?idempotency_key=survives`)).json()).toMatchObject({ chargeId: before.chargeId });
  });
});

describe('the mock as its own process (dist/main.js)', () => {
  it('starts with its TLS files and ports, is ready at the ops port\'s /readyz, answers over HTTPS, and stops cleanly on SIGTERM', async () => {
    const [port, opsPort] = [await freePort(), await freePort()];
    const proc: ServiceProcess = startService('payment-gateway-mock', MOCK_MAIN, {
      DATABASE_URL: db.url,
      PAYMENT_GATEWAY_MOCK_HTTP_PORT: String(port),
      PAYMENT_GATEWAY_MOCK_OPS_PORT: String(opsPort),
      PAYMENT_GATEWAY_MOCK_API_KEY: TEST_API_KEY,
      ...(await testTlsEnv('payment-gateway-mock')),
    });
    try {
      await waitForHttpOk(`http://127.0.0.1:${opsPort}/readyz`);
      const answer = await fetch(`https://127.0.0.1:${port}/v1/charges?idempotency_key=survives`);
      expect(answer.status).toBe(200);
    } finally {
      expect(await proc.stop()).toBe(0);
    }
  });

  it('refuses to start without its TLS files: exit 2, naming each variable', async () => {
    const proc = startService('payment-gateway-mock', MOCK_MAIN, { DATABASE_URL: db.url, TLS_CA_FILE: '', TLS_CERT_FILE: '', TLS_KEY_FILE: '', PAYMENT_GATEWAY_MOCK_HTTP_PORT: '0', PAYMENT_GATEWAY_MOCK_OPS_PORT: '0' });
    const code = proc.child.exitCode ?? (await new Promise<number | null>((resolve) => proc.child.once('exit', resolve)));
    expect(code).toBe(2);
    const output = proc.logs.join('\n');
    for (const name of ['TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE']) expect(output).toContain(name);
  });
});
