// Who may call the payment gateway mock (ADR 0009: it stands for an external
// provider and accepts only bank-card-adapter). A client without a
// certificate from the CA (none, another CA, expired) is refused at the TLS
// handshake: the request never reaches the mock. A valid certificate of any
// other service gets 403 caller_not_allowed; the right certificate without
// the merchant's API key gets 401 invalid_api_key. Nothing is charged in any
// of these cases; the right caller with the key is served.
import { randomUUID } from 'node:crypto';
import { createLogger } from '@wallet/platform';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { loadMockConfig } from '../../src/config.js';
import { startPaymentGatewayMock, type RunningMock } from '../../src/service.js';
import { call, closeClients, TEST_API_KEY, type RogueKind } from '../support/clients.js';
import { dropTestDatabase } from '../support/db.js';

let db: TestDatabase;
let mock: RunningMock;
let base: string;

beforeAll(async () => {
  db = await createTestDatabase('payment_gateway_mock_callers');
  const config = loadMockConfig({
    DATABASE_URL: db.url,
    PAYMENT_GATEWAY_MOCK_HTTP_PORT: '0',
    PAYMENT_GATEWAY_MOCK_OPS_PORT: '0',
    PAYMENT_GATEWAY_MOCK_API_KEY: TEST_API_KEY,
    ...(await testTlsEnv('payment-gateway-mock')),
  });
  mock = await startPaymentGatewayMock(config, createLogger('test', 'silent'));
  base = `https://127.0.0.1:${mock.server.port}`;
});

afterAll(async () => {
  await mock?.stop();
  await closeClients();
  await dropTestDatabase(db);
});

function chargeInit(key: string) {
  return {
    method: 'POST',
    headers: { 'idempotency-key': key, 'content-type': 'application/json' },
    body: JSON.stringify({ amountMinor: '1000', currency: 'USD', card: { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' } }),
  };
}

async function chargedWith(key: string): Promise<number> {
  const { rows } = await mock.pool.query('SELECT 1 FROM payment_gateway_mock.charges WHERE idempotency_key = $1', [key]);
  return rows.length;
}

async function refusedCount(reason: string, caller: string): Promise<number> {
  const metric = (await (await fetch(`http://127.0.0.1:${mock.ops.port}/metrics`)).text())
    .split('\n')
    .find((line) => line.startsWith('payment_gateway_mock_requests_refused_total{') && line.includes(`reason="${reason}"`) && line.includes(`caller="${caller}"`));
  return metric ? Number(metric.split(' ').pop()) : 0;
}

describe('payment gateway mock: only bank-card-adapter may call (mutual TLS)', () => {
  it.each<RogueKind>(['no-certificate', 'other-ca', 'expired'])('a client with %s is refused at the handshake; nothing charged', async (kind) => {
    const key = `rogue-${kind}-${randomUUID()}`;
    await expect(call(`${base}/v1/charges`, chargeInit(key), { as: kind })).rejects.toThrow();
    expect(await chargedWith(key)).toBe(0);
  });

  it('plain HTTP on the HTTPS port is not served; nothing charged', async () => {
    const key = `plain-${randomUUID()}`;
    const answer = await fetch(`http://127.0.0.1:${mock.server.port}/v1/charges`, { ...chargeInit(key), signal: AbortSignal.timeout(5_000) }).catch((error: unknown) => error);
    // Node's TLS server drops a plaintext request (or answers 400): never a charge.
    if (answer instanceof Response) expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(await chargedWith(key)).toBe(0);
  });

  it('a valid certificate of another service (analytics-service, api-gateway) gets 403 caller_not_allowed, counted; nothing charged', async () => {
    const before = await refusedCount('caller_not_allowed', 'analytics-service');
    for (const as of ['analytics-service', 'api-gateway'] as const) {
      const key = `wrong-${as}-${randomUUID()}`;
      const answer = await call(`${base}/v1/charges`, chargeInit(key), { as });
      expect(answer.status).toBe(403);
      expect(await answer.json()).toMatchObject({ error: { code: 'caller_not_allowed', kind: 'rejected' } });
      expect(await chargedWith(key)).toBe(0);
    }
    expect((await call(`${base}/healthz`, {}, { as: 'analytics-service' })).status).toBe(403);
    expect(await refusedCount('caller_not_allowed', 'analytics-service')).toBe(before + 2);
  });

  it('bank-card-adapter without the API key, or with a wrong one, gets 401 invalid_api_key; nothing charged', async () => {
    for (const apiKey of [null, 'not-the-merchant-api-key-at-all']) {
      const key = `no-key-${randomUUID()}`;
      const answer = await call(`${base}/v1/charges`, chargeInit(key), { apiKey });
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expect(await answer.json()).toMatchObject({ error: { code: 'invalid_api_key', kind: 'rejected' } });
      expect(await chargedWith(key)).toBe(0);
    }
    expect(await refusedCount('invalid_api_key', 'bank-card-adapter')).toBeGreaterThanOrEqual(2);
  });

  it('bank-card-adapter with the API key is served', async () => {
    const key = `right-${randomUUID()}`;
    const answer = await call(`${base}/v1/charges`, chargeInit(key));
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ status: 'succeeded' });
    expect(await chargedWith(key)).toBe(1);
  });
});
