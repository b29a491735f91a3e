// Crashes of the real adapter process (dist/main.js) at the worst moments of
// the saga. After a restart, every top-up ends credited once and charged
// once, or not credited and refunded: checked on the gateway's ledger and the
// bank's deposits, never on the adapter's word alone.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BankCardAdapterServiceClient } from '@wallet/contracts/card-adapter';
import { createGrpcClient } from '@wallet/platform';
import { createTestDatabase, freePort, startService, waitFor, waitForHttpOk, type ServiceProcess, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { authEnv, closeTestIssuer } from '../support/auth.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { MockGatewayProcess } from '../support/payment-gateway-mock.js';
import { testClientTransport, testTlsEnv } from '../../../../test/support/pki.js';
import { callGetTopUp, callTopUp, chargesFor, journalByKey, journalRow, request, TEST_PAYMENT_GATEWAY_API_KEY, type TopUpCall } from '../support/harness.js';

const ADAPTER_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let mock: MockGatewayProcess;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_crash');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  bank = await new FakeBank().start();
  mock = await MockGatewayProcess.start(db.url);
});

afterEach(async () => {
  bank.plan = () => 'ok';
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

afterAll(async () => {
  await bank?.stop();
  await mock?.stop();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

interface Adapter {
  process: ServiceProcess;
  client: BankCardAdapterServiceClient;
}

async function startAdapter(extra: Record<string, string> = {}): Promise<Adapter> {
  const [grpcPort, opsPort] = [await freePort(), await freePort()];
  const proc = startService('bank-card-adapter', ADAPTER_MAIN, {
    DATABASE_URL: db.url,
    CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address,
    CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url,
    CARD_ADAPTER_GRPC_PORT: String(grpcPort),
    CARD_ADAPTER_OPS_PORT: String(opsPort),
    CARD_ADAPTER_PAYMENT_GATEWAY_TIMEOUT_MS: '1000',
    // Long enough that a loaded machine does not fail the account check before the charge (nothing would be charged, no crash).
    CARD_ADAPTER_BANK_TIMEOUT_MS: '1500',
    CARD_ADAPTER_LEASE_MARGIN_MS: '200',
    CARD_ADAPTER_RETRY_DELAY_MS_MIN: '10',
    CARD_ADAPTER_RETRY_DELAY_MS_MAX: '50',
    CARD_ADAPTER_CHARGE_RESOLUTION_GRACE_MS: '200',
    CARD_ADAPTER_RECOVERY_INTERVAL_MS: '100',
    CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: TEST_PAYMENT_GATEWAY_API_KEY,
    ...(await testTlsEnv('bank-card-adapter')),
    ...(await authEnv()),
    ...extra,
  });
  running.push(proc);
  await waitForHttpOk(`http://127.0.0.1:${opsPort}/healthz`, 60_000);
  const client = createGrpcClient(BankCardAdapterServiceClient, `127.0.0.1:${grpcPort}`, await testClientTransport('bank-card-adapter', 'api-gateway'));
  // The first verified token fetches the issuer's keys: done here, so a loaded machine cannot turn the
  // crash scenario into "issuer unavailable" (the top-up would then never reach its crash point).
  await waitFor(async () => (await callGetTopUp(client, { topUpId: randomUUID() })).err?.reason === 'TOP_UP_NOT_FOUND', {
    timeoutMs: 60_000,
    what: 'the adapter to verify tokens',
  });
  return { process: proc, client };
}

async function killedBySelf(proc: ServiceProcess, answer?: TopUpCall): Promise<void> {
  // The answer says why, if the top-up never reached its crash point.
  await waitFor(() => proc.child.signalCode === 'SIGKILL', { what: `the adapter to kill itself (the call answered ${JSON.stringify(answer?.err ?? answer?.ok)})` });
}

describe('crash recovery (real process, SIGKILL at the crash point, restart)', () => {
  it('crash right after the charge is recorded: the restarted adapter deposits once; charged once, never refunded', async () => {
    const first = await startAdapter({ WALLET_TEST_CRASH_POINT: 'after_charge_recorded' });
    const req = request();
    const answer = await callTopUp(first.client, req, 10_000);
    first.client.close();
    expect(answer.err).toBeDefined(); // the process died mid-call
    await killedBySelf(first.process, answer);

    const left = (await journalByKey(pool, req.idempotencyKey))!;
    expect(left.state).toBe('CHARGED');
    expect(bank.callsFor(`topup-${left.id}`)).toBe(0);

    const second = await startAdapter();
    await waitFor(async () => (await journalRow(pool, left.id)).state === 'COMPLETED', { timeoutMs: 60_000, what: 'recovery to complete the top-up' });

    const charges = await chargesFor(pool, left.id);
    expect(charges).toHaveLength(1);
    expect(charges[0]?.refund_id).toBeNull();
    expect([...bank.deposits.values()].filter((d) => d.topUpId === left.id)).toHaveLength(1);

    // The client's retry gets the finished top-up, without a second charge.
    const retry = await callTopUp(second.client, req);
    second.client.close();
    expect(retry.ok).toMatchObject({ replayed: true, topUp: { id: left.id } });
    expect(await chargesFor(pool, left.id)).toHaveLength(1);
    expect(await second.process.stop()).toBe(0); // graceful shutdown on SIGTERM
  });

  it('crash after the gateway charged but before the journal recorded it: recovery finds the charge by its key', async () => {
    const first = await startAdapter({ WALLET_TEST_CRASH_POINT: 'before_charge_recorded' });
    const req = request();
    const answer = await callTopUp(first.client, req, 10_000);
    first.client.close();
    await killedBySelf(first.process, answer);

    const left = (await journalByKey(pool, req.idempotencyKey))!;
    expect(left.state).toBe('CHARGING');
    expect(await chargesFor(pool, left.id)).toHaveLength(1);

    await startAdapter();
    await waitFor(async () => (await journalRow(pool, left.id)).state === 'COMPLETED', { timeoutMs: 60_000, what: 'recovery to complete the top-up' });
    expect(await chargesFor(pool, left.id)).toHaveLength(1);
    expect(bank.deposits.get(`topup-${left.id}`)).toBeDefined();
    expect(bank.callsFor(`topup-${left.id}`)).toBe(1);
  });

  it('crash after deciding to refund: the restarted adapter refunds once and never deposits', async () => {
    bank.plan = () => 'unavailable';
    const first = await startAdapter({ WALLET_TEST_CRASH_POINT: 'after_refund_decided' });
    const req = request();
    const answer = await callTopUp(first.client, req, 10_000);
    first.client.close();
    await killedBySelf(first.process, answer);

    const left = (await journalByKey(pool, req.idempotencyKey))!;
    expect(left.state).toBe('REFUNDING');
    const callsBefore = bank.callsFor(`topup-${left.id}`);

    bank.plan = () => 'ok'; // the bank is back, but the saga already chose compensation
    await startAdapter();
    await waitFor(async () => (await journalRow(pool, left.id)).state === 'REFUNDED', { timeoutMs: 60_000, what: 'recovery to refund' });
    const charges = await chargesFor(pool, left.id);
    expect(charges).toHaveLength(1);
    expect(charges[0]?.refund_id).not.toBeNull();
    expect(bank.deposits.get(`topup-${left.id}`)).toBeUndefined();
    expect(bank.callsFor(`topup-${left.id}`)).toBe(callsBefore);
  });

  it('crash after the bank applied the deposit, then the bank unreachable: never refunded; completed once the bank is back', async () => {
    const first = await startAdapter({ WALLET_TEST_CRASH_POINT: 'after_deposit_applied' });
    const req = request();
    const answer = await callTopUp(first.client, req, 10_000);
    first.client.close();
    await killedBySelf(first.process, answer);
    const left = (await journalByKey(pool, req.idempotencyKey))!;
    expect(left.state).toBe('CHARGED');
    expect(bank.deposits.get(`topup-${left.id}`)).toBeDefined();

    await bank.stop();
    try {
      await startAdapter({ CARD_ADAPTER_RECOVERY_DELAY_MS_MIN: '100', CARD_ADAPTER_RECOVERY_DELAY_MS_MAX: '200' });
      // Recovery meets an unreachable bank, more than once, and keeps waiting instead of refunding.
      await waitFor(
        async () => {
          const { rows } = await pool.query<{ wait_rounds: number }>('SELECT wait_rounds FROM card_adapter.top_ups WHERE id = $1', [left.id]);
          return (rows[0]?.wait_rounds ?? 0) >= 2;
        },
        { timeoutMs: 30_000, what: 'recovery to wait on the unreachable bank' },
      );
      expect((await journalRow(pool, left.id)).state).toBe('CHARGED');
      expect((await chargesFor(pool, left.id))[0]?.refund_id).toBeNull();
    } finally {
      await bank.restart();
    }
    await waitFor(async () => (await journalRow(pool, left.id)).state === 'COMPLETED', { timeoutMs: 90_000, what: 'recovery to complete the top-up' });
    expect([...bank.deposits.values()].filter((d) => d.topUpId === left.id)).toHaveLength(1);
    expect((await chargesFor(pool, left.id))[0]?.refund_id).toBeNull();
  });
});
