// Two adapter processes (dist/main.js) on one database, both running their
// recovery loops over one backlog of stuck top-ups (issue #13 scale-out):
// every top-up is finished exactly once: one DepositMoney per charged top-up,
// one refund per refunded one, no step done twice, nothing charged again.
// Checked on the fake bank's calls, the gateway's ledger and the journal's
// audit trail, never on the adapters' word alone.
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, freePort, startService, waitFor, waitForHttpOk, type ServiceProcess, type TestDatabase } from '@wallet/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testTlsEnv } from '../../../../test/support/pki.js';
import { ALICE, authEnv, closeTestIssuer } from '../support/auth.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { ACCOUNT, TEST_PAYMENT_GATEWAY_API_KEY } from '../support/harness.js';
import { MockGatewayProcess } from '../support/payment-gateway-mock.js';

const ADAPTER_MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));

let db: TestDatabase;
let pool: pg.Pool;
let bank: FakeBank;
let mock: MockGatewayProcess;
const replicas: ServiceProcess[] = [];

async function startReplica(): Promise<ServiceProcess> {
  const opsPort = await freePort();
  const proc = startService('bank-card-adapter', ADAPTER_MAIN, {
    DATABASE_URL: db.url,
    LOG_LEVEL: 'info',
    CARD_ADAPTER_BANK_GRPC_ADDRESS: bank.address,
    CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url,
    CARD_ADAPTER_GRPC_PORT: String(await freePort()),
    CARD_ADAPTER_OPS_PORT: String(opsPort),
    CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: TEST_PAYMENT_GATEWAY_API_KEY,
    CARD_ADAPTER_RECOVERY_INTERVAL_MS: '100',
    CARD_ADAPTER_RECOVERY_BATCH_SIZE_MAX: '5',
    CARD_ADAPTER_LEASE_MARGIN_MS: '500',
    ...(await testTlsEnv('bank-card-adapter')),
    ...(await authEnv()),
  });
  replicas.push(proc);
  await waitForHttpOk(`http://127.0.0.1:${opsPort}/readyz`, 60_000);
  return proc;
}

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_replicas');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  bank = await new FakeBank().start();
  mock = await MockGatewayProcess.start(db.url);
  // Both migrate on start, side by side; then both recovery loops poll the same (empty) journal.
  await Promise.all([startReplica(), startReplica()]);
});

afterAll(async () => {
  await Promise.all(replicas.map((p) => p.stop()));
  await bank?.stop();
  await mock?.stop();
  await pool?.end();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

type Stuck = 'CHARGED' | 'CHARGING' | 'REFUNDING' | 'FAILED';

/** A top-up as a crashed worker left it (lease expired), with its charge at the gateway. */
async function seed(client: pg.PoolClient, state: Stuck): Promise<string> {
  const id = randomUUID();
  const chargeId = `ch_rep_${randomBytes(8).toString('hex')}`;
  await client.query(
    `INSERT INTO payment_gateway_mock.charges (id, idempotency_key, amount_minor, currency, card_last4, card_brand, status)
     VALUES ($1, $2, 1500, 'USD', '4242', 'visa', 'succeeded')`,
    [chargeId, `topup-${id}-charge`],
  );
  const recordsCharge = state === 'CHARGED' || state === 'REFUNDING';
  await client.query(
    `INSERT INTO card_adapter.top_ups (id, account_id, idempotency_key, request_hash, amount_minor, currency, card_last4, card_brand, state,
                                       charge_id, charge_attempts, last_charge_error, last_charge_attempt_at, charge_outcome_unknown,
                                       failure_reason, lease_token, lease_until, initiated_by)
     VALUES ($1, $2, $3, $4, 1500, 'USD', '4242', 'visa', $5, $6, 1, $7, now() - interval '1 hour', $8, $9,
             gen_random_uuid(), now() - interval '1 second', $10)`,
    [
      id,
      ACCOUNT,
      `replicas-${id}`,
      randomBytes(32).toString('hex'),
      state,
      recordsCharge ? chargeId : null,
      state === 'CHARGING' || state === 'FAILED' ? 'timeout' : null,
      state === 'FAILED',
      state === 'FAILED' ? 'PAYMENT_GATEWAY_TIMEOUT' : null,
      ALICE,
    ],
  );
  return id;
}

interface Settled {
  state: string;
  deposit_attempts: number;
  refund_attempts: number;
  steps: string[];
}

async function settled(id: string): Promise<Settled> {
  const { rows } = await pool.query<Settled>(
    `SELECT t.state, t.deposit_attempts, t.refund_attempts,
            coalesce(array_agg(x.from_state || '>' || x.to_state ORDER BY x.id) FILTER (WHERE x.id IS NOT NULL), '{}') AS steps
       FROM card_adapter.top_ups t LEFT JOIN card_adapter.top_up_transitions x ON x.top_up_id = t.id
      WHERE t.id = $1 GROUP BY t.id`,
    [id],
  );
  return rows[0]!;
}

describe('two adapter replicas recovering one backlog', () => {
  it('finish every stuck top-up exactly once: one deposit per charged top-up, one refund per refunded one, nothing charged again', async () => {
    const kinds: Stuck[] = [...Array<Stuck>(16).fill('CHARGED'), ...Array<Stuck>(8).fill('CHARGING'), ...Array<Stuck>(8).fill('REFUNDING'), ...Array<Stuck>(6).fill('FAILED')];
    const client = await pool.connect();
    const ids = new Map<string, Stuck>();
    try {
      // One commit: both loops see the whole backlog at once.
      await client.query('BEGIN');
      for (const kind of kinds) ids.set(await seed(client, kind), kind);
      await client.query('COMMIT');
    } finally {
      client.release();
    }

    const expected: Record<Stuck, string> = { CHARGED: 'COMPLETED', CHARGING: 'COMPLETED', REFUNDING: 'REFUNDED', FAILED: 'REFUNDED' };
    await waitFor(
      async () => {
        const { rows } = await pool.query<{ n: string }>(
          `SELECT count(*) AS n FROM card_adapter.top_ups WHERE id = ANY($1::uuid[]) AND state IN ('COMPLETED', 'REFUNDED')`,
          [[...ids.keys()]],
        );
        return Number(rows[0]!.n) === ids.size;
      },
      { timeoutMs: 90_000, what: 'both replicas to finish the backlog' },
    );

    const stepsOf: Record<Stuck, string[]> = {
      CHARGED: ['CHARGED>COMPLETED'],
      CHARGING: ['CHARGING>CHARGED', 'CHARGED>COMPLETED'],
      REFUNDING: ['REFUNDING>REFUNDED'],
      FAILED: ['FAILED>REFUNDING', 'REFUNDING>REFUNDED'],
    };
    for (const [id, kind] of ids) {
      const row = await settled(id);
      // No step twice: the audit trail is exactly the path, each transition once.
      expect({ id, ...row }).toEqual({
        id,
        state: expected[kind],
        steps: stepsOf[kind],
        deposit_attempts: expected[kind] === 'COMPLETED' ? 1 : 0,
        refund_attempts: expected[kind] === 'REFUNDED' ? 1 : 0,
      });
      // The bank saw one DepositMoney per completed top-up and none for a refunded one.
      expect(bank.callsFor(`topup-${id}`)).toBe(expected[kind] === 'COMPLETED' ? 1 : 0);
      // The gateway holds one charge per top-up (recovery never charges), refunded exactly when the top-up is.
      const { rows: charges } = await pool.query<{ refund_id: string | null }>('SELECT refund_id FROM payment_gateway_mock.charges WHERE idempotency_key = $1', [`topup-${id}-charge`]);
      expect(charges).toHaveLength(1);
      expect(charges[0]!.refund_id !== null).toBe(expected[kind] === 'REFUNDED');
    }

    // Both replicas took part (the backlog was shared, not drained by one).
    const handledBy = replicas.map((p) => p.logs.filter((line) => line.includes('recovering unfinished top-up')).length);
    expect(handledBy.every((n) => n > 0)).toBe(true);
  });
});
