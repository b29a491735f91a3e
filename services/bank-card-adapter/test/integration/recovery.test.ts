// The recovery loop over a journal left behind by crashes: every unfinished
// top-up is completed or compensated exactly once, also with two replicas
// recovering side by side (SKIP LOCKED claims + leases).
import { randomBytes, randomUUID } from 'node:crypto';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LEGACY_INITIATOR } from '../../src/app/deposit-step.js';
import { ALICE, closeTestIssuer } from '../support/auth.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { MockGatewayProcess } from '../support/payment-gateway-mock.js';
import { ACCOUNT, chargesFor, journalRow, startTestAdapter, type TestAdapter } from '../support/harness.js';

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let mock: MockGatewayProcess;
let replicaA: TestAdapter;
let replicaB: TestAdapter;

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_recovery');
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  bank = await new FakeBank().start();
  mock = await MockGatewayProcess.start(db.url);
  // A long grace period: "no charge at the gateway" is trusted only for attempts older than it.
  const env = { DATABASE_URL: db.url, CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address, CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url, CARD_ADAPTER_RECOVERY_BATCH_SIZE_MAX: '100', CARD_ADAPTER_CHARGE_RESOLUTION_GRACE_MS: '60000' };
  // Both replicas run migrations on start; they must not trip over each other.
  [replicaA, replicaB] = await Promise.all([startTestAdapter(env), startTestAdapter(env)]);
});

afterAll(async () => {
  await replicaA?.stop();
  await replicaB?.stop();
  await bank?.stop();
  await mock?.stop();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

type SeedState = 'RECEIVED' | 'CHARGING' | 'CHARGED' | 'REFUNDING';

/** Journals a top-up as a crashed worker would have left it, with the gateway-side charge if one was made. */
async function seed(state: SeedState, options: { charged: boolean; lastAttemptAgoMs?: number; initiatedBy?: string | null }): Promise<string> {
  const id = randomUUID();
  const chargeId = options.charged ? `ch_seed_${randomBytes(8).toString('hex')}` : null;
  if (chargeId) {
    await pool.query(
      `INSERT INTO payment_gateway_mock.charges (id, idempotency_key, amount_minor, currency, card_last4, card_brand, status)
       VALUES ($1, $2, 1500, 'USD', '4242', 'visa', 'succeeded')`,
      [chargeId, `topup-${id}-charge`],
    );
  }
  await pool.query(
    `INSERT INTO card_adapter.top_ups (id, account_id, idempotency_key, request_hash, amount_minor, currency, card_last4, card_brand,
                                       state, charge_id, charge_attempts, last_charge_error, last_charge_attempt_at, lease_token, lease_until, initiated_by)
     VALUES ($1, $2, $3, $4, 1500, 'USD', '4242', 'visa', $5, $6, $7, $8, now() - make_interval(secs => $9::double precision / 1000),
             gen_random_uuid(), now() - interval '1 second', $10)`,
    [
      id,
      ACCOUNT,
      `seed-${id}`,
      randomBytes(32).toString('hex'),
      state,
      state === 'CHARGED' || state === 'REFUNDING' ? chargeId : null,
      state === 'RECEIVED' ? 0 : 1,
      state === 'CHARGING' ? 'timeout' : null,
      options.lastAttemptAgoMs ?? 3_600_000,
      options.initiatedBy === undefined ? ALICE : options.initiatedBy,
    ],
  );
  return id;
}

describe('recovery of unfinished top-ups', () => {
  it('settles each kind of leftover: completes charged ones, refunds decided refunds, fails uncharged ones', async () => {
    const chargedNotDeposited = await seed('CHARGED', { charged: true });
    const chargedButNotRecorded = await seed('CHARGING', { charged: true });
    const neverCharged = await seed('CHARGING', { charged: false });
    const neverSent = await seed('RECEIVED', { charged: false });
    const refundDecided = await seed('REFUNDING', { charged: true });
    const tooRecentToJudge = await seed('CHARGING', { charged: false, lastAttemptAgoMs: 0 });

    await replicaA.adapter.recovery.runPass();

    expect((await journalRow(pool, chargedNotDeposited)).state).toBe('COMPLETED');
    expect((await journalRow(pool, chargedButNotRecorded)).state).toBe('COMPLETED');
    expect(await journalRow(pool, neverCharged)).toMatchObject({ state: 'FAILED', failure_reason: 'PAYMENT_GATEWAY_TIMEOUT' });
    expect(await journalRow(pool, neverSent)).toMatchObject({ state: 'FAILED', failure_reason: 'PAYMENT_GATEWAY_ERROR' });
    expect((await journalRow(pool, refundDecided)).state).toBe('REFUNDED');
    // A charge attempt that may still be in flight at the gateway is not judged yet.
    expect((await journalRow(pool, tooRecentToJudge)).state).toBe('CHARGING');

    for (const id of [chargedNotDeposited, chargedButNotRecorded]) {
      expect(bank.callsFor(`topup-${id}`)).toBe(1);
      expect((await chargesFor(pool, id))[0]?.refund_id).toBeNull();
    }
    expect(bank.callsFor(`topup-${refundDecided}`)).toBe(0);
    expect((await chargesFor(pool, refundDecided))[0]?.refund_id).not.toBeNull();
    for (const id of [neverCharged, neverSent]) {
      expect(bank.callsFor(`topup-${id}`)).toBe(0);
      expect(await chargesFor(pool, id)).toHaveLength(0);
    }
  });

  it('a recovery deposit (no user token) carries the initiator from the journal, is made as bank-card-adapter (its certificate), and carries no bearer token', async () => {
    const id = await seed('CHARGED', { charged: true, initiatedBy: '22222222-2222-4222-8222-222222222222' });
    const legacy = await seed('CHARGED', { charged: true, initiatedBy: null });
    const seenBefore = bank.seen.length;
    await replicaA.adapter.recovery.runPass();
    expect((await journalRow(pool, id)).state).toBe('COMPLETED');
    expect(bank.deposits.get(`topup-${id}`)).toMatchObject({ topUpId: id, initiatedBy: '22222222-2222-4222-8222-222222222222' });
    // A top-up journaled before identity existed still completes (the bank refuses an empty initiator),
    // attributed to the adapter itself.
    expect((await journalRow(pool, legacy)).state).toBe('COMPLETED');
    expect(bank.deposits.get(`topup-${legacy}`)?.initiatedBy).toBe(LEGACY_INITIATOR);
    const calls = bank.seen.slice(seenBefore);
    expect(calls.filter((c) => c.rpc === 'DepositMoney').length).toBeGreaterThanOrEqual(2);
    for (const call of calls) expect(call).toMatchObject({ caller: 'bank-card-adapter', authorization: undefined });
  });

  it('two replicas recovering the same backlog handle every top-up exactly once', async () => {
    const ids = await Promise.all(Array.from({ length: 30 }, () => seed('CHARGED', { charged: true })));
    const [handledA, handledB] = await Promise.all([replicaA.adapter.recovery.runPass(), replicaB.adapter.recovery.runPass()]);
    // The leftover "too recent" top-up from the previous test may be counted once more; the backlog is split.
    expect(handledA + handledB).toBeGreaterThanOrEqual(30);
    for (const id of ids) {
      expect((await journalRow(pool, id)).state).toBe('COMPLETED');
      expect(bank.callsFor(`topup-${id}`)).toBe(1);
      expect(bank.deposits.get(`topup-${id}`)).toMatchObject({ amountMinor: 1_500n, topUpId: id });
    }
  });

  it('an adapter starting with the loop enabled recovers leftovers by itself, on start and periodically', async () => {
    const before = await seed('CHARGED', { charged: true });
    const replicaC = await startTestAdapter({
      DATABASE_URL: db.url,
      CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address,
      CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url,
      CARD_ADAPTER_RECOVERY_ENABLED: 'true',
      CARD_ADAPTER_RECOVERY_INTERVAL_MS: '100',
    });
    try {
      await waitFor(async () => (await journalRow(pool, before)).state === 'COMPLETED', { what: 'recovery on start' });
      const later = await seed('CHARGED', { charged: true });
      await waitFor(async () => (await journalRow(pool, later)).state === 'COMPLETED', { what: 'a periodic recovery pass' });
      expect(bank.callsFor(`topup-${later}`)).toBe(1);
      const metrics = await (await fetch(`http://127.0.0.1:${replicaC.adapter.ops.port}/metrics`)).text();
      expect(metrics).toMatch(/card_adapter_recovery_actions_total\{[^}]*action="completed"[^}]*\} [1-9]/);
    } finally {
      await replicaC.stop();
    }
  });

  it('a top-up leased by a live worker is left alone', async () => {
    const id = randomUUID();
    await pool.query(
      `INSERT INTO payment_gateway_mock.charges (id, idempotency_key, amount_minor, currency, card_last4, card_brand, status)
       VALUES ($1, $2, 1500, 'USD', '4242', 'visa', 'succeeded')`,
      [`ch_live_${id}`, `topup-${id}-charge`],
    );
    await pool.query(
      `INSERT INTO card_adapter.top_ups (id, account_id, idempotency_key, request_hash, amount_minor, currency, card_last4, card_brand,
                                         state, charge_id, lease_token, lease_until)
       VALUES ($1, $2, $3, $4, 1500, 'USD', '4242', 'visa', 'CHARGED', $5, gen_random_uuid(), now() + interval '1 hour')`,
      [id, ACCOUNT, `live-${id}`, randomBytes(32).toString('hex'), `ch_live_${id}`],
    );
    await replicaA.adapter.recovery.runPass();
    expect((await journalRow(pool, id)).state).toBe('CHARGED');
    expect(bank.callsFor(`topup-${id}`)).toBe(0);
  });
});
