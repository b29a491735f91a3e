// The payment gateway mock as its own process (services/payment-gateway-mock),
// reached over HTTPS (mutual TLS) with nothing in between: real network failures between
// the adapter and the gateway (refused, dropped, too slow), and readiness.
import { status as Status } from '@grpc/grpc-js';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestIssuer } from '../support/auth.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { journalRow, startTestAdapter, type TestAdapter } from '../support/harness.js';
import { fetchMock, MockGatewayProcess } from '../support/payment-gateway-mock.js';

interface LedgerEntry {
  idempotencyKey: string;
  status: string;
  refundId: string | null;
}

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let mock: MockGatewayProcess;
let t: TestAdapter;

async function ledgerFor(topUpId: string): Promise<LedgerEntry[]> {
  const response = await fetchMock(`${mock.url}/v1/ledger?limit=1000`);
  const body = (await response.json()) as { charges: LedgerEntry[] };
  return body.charges.filter((c) => c.idempotencyKey === `topup-${topUpId}-charge`);
}

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_http_gateway');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  bank = await new FakeBank().start();
  mock = await MockGatewayProcess.start(db.url);
  t = await startTestAdapter({
    DATABASE_URL: db.url,
    CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address,
    CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url,
    // "No charge at the gateway" is final only after deadline + grace: long enough that a slow lookup
    // (a new TLS connection on a loaded machine) still leaves the never-answered charge pending.
    CARD_ADAPTER_CHARGE_RESOLUTION_GRACE_MS: '5000',
  });
});

afterAll(async () => {
  await t?.stop();
  await mock?.stop();
  await bank?.stop();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

describe('payment gateway over HTTP (separate process)', () => {
  it('charges and deposits once', async () => {
    const result = await t.topUp({});
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    const topUpId = result.ok!.topUp!.id;
    expect(await ledgerFor(topUpId)).toEqual([expect.objectContaining({ status: 'succeeded', refundId: null })]);
    expect(bank.callsFor(`topup-${topUpId}`)).toBe(1);
  });

  it('a dropped connection after the charge: the retry with the same key finds it; charged once', async () => {
    const result = await t.topUp({ card: { number: '4000000000001505' } });
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    expect(await ledgerFor(result.ok!.topUp!.id)).toHaveLength(1);
  });

  it('a decline travels over HTTP as CARD_DECLINED', async () => {
    const result = await t.topUp({ card: { number: '4000000000000002' } });
    expect(result.err).toMatchObject({ code: Status.FAILED_PRECONDITION, reason: 'CARD_DECLINED' });
    expect(result.err?.metadata).toMatchObject({ charged: 'false', decline_code: 'generic_decline' });
  });

  it('a gateway that never answers leaves the top-up pending with charged=unknown', async () => {
    const result = await t.topUp({ card: { number: '4000000000001018' } });
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'TOP_UP_PENDING' });
    expect(result.err?.metadata.charged).toBe('unknown');
  });

  it('a deposit failure over HTTP is compensated by a refund at the gateway', async () => {
    bank.plan = () => 'unavailable';
    try {
      const result = await t.topUp({});
      expect(result.err).toMatchObject({ code: Status.ABORTED, reason: 'DEPOSIT_FAILED_REFUNDED' });
      const ledger = await ledgerFor(result.err!.metadata.top_up_id!);
      expect(ledger).toHaveLength(1);
      expect(ledger[0]?.refundId).toMatch(/^re_/);
    } finally {
      bank.plan = () => 'ok';
    }
  });

  it('a gateway that is down (connection refused): nothing charged, UNAVAILABLE PAYMENT_GATEWAY_ERROR; the adapter stays ready and reports it', async () => {
    await mock.kill();
    const result = await t.topUp({});
    expect(result.err).toMatchObject({ code: Status.UNAVAILABLE, reason: 'PAYMENT_GATEWAY_ERROR' });
    expect(result.err?.metadata.charged).toBe('false');
    expect(await journalRow(pool, result.err!.metadata.top_up_id!)).toMatchObject({ state: 'FAILED', charge_attempts: 2 });
    // A shared dependency's outage must not take every replica out of the load balancer (GetTopUp, replays and
    // fast refusals still need them): readiness is the journal's; the gateway is reported in the detail.
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${t.adapter.ops.port}/readyz`);
      return { status: response.status, body: (await response.json()) as { detail: { dependencies: { paymentGateway: string } } } };
    };
    const ready = await readyz();
    expect(ready.status).toBe(200);
    expect(ready.body.detail.dependencies.paymentGateway).not.toBe('ok');

    await mock.restart();
    await waitFor(async () => (await readyz()).body.detail.dependencies.paymentGateway === 'ok', { what: 'the gateway reported reachable again' });
    expect((await t.topUp({})).ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
  });
});
