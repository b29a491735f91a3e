// Queue heads on real PostgreSQL (ADR 0022 decision 12): fan-outs adding to a
// queue race the dispatcher finishing that queue's head, and afterwards every
// queue is drained in order (a headless queue would be stuck). Without the
// queue lock, a fan-out and a finishing head could each miss the other's
// uncommitted row: the window is too narrow for a stress test to hit reliably,
// so one test holds the queue's lock itself and sees both paths wait for it.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, waitFor, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDue, recordAttempt, repairHeads, storeEvents, type IncomingEvent } from '../../src/db/deliveries.js';
import { migrateWebhooks } from '../../src/db/migrations.js';
import { silentLogger } from '../support/harness.js';

const RETRY_WINDOW_MS = 86_400_000;
const LEASE_MS = 60_000;
let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('webhook_heads');
  await migrateWebhooks(db.url, silentLogger);
  pool = new pg.Pool({ connectionString: db.url, max: 12 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function endpoint(): Promise<string> {
  const id = randomUUID();
  await pool.query(
    `INSERT INTO webhooks.endpoints (id, owner_id, all_accounts, url, events, secret_ciphertext, idempotency_key, request_hash, created_at)
     VALUES ($1, 'owner', true, 'http://127.0.0.1:9/hooks', '{transfer_out}', '\\x00', $2, 'h', now())`,
    [id, randomUUID()],
  );
  return id;
}

function event(accountId: string): IncomingEvent {
  const eventId = randomUUID();
  return { eventId, eventType: 'transfer_out', accountId, body: JSON.stringify({ eventId, accountId }) };
}

/** Fans events out to the endpoint, as the consumer does. */
function fanOut(endpointId: string, events: IncomingEvent[]) {
  return storeEvents(pool, events, (fresh) => fresh.map((e) => ({ id: randomUUID(), endpointId, eventId: e.eventId })), RETRY_WINDOW_MS);
}

/** Per queue: pending deliveries in seq order with their head flags. */
async function queues(endpointId: string): Promise<Map<string, boolean[]>> {
  const { rows } = await pool.query<{ account_id: string; head: boolean }>(
    `SELECT account_id, head FROM webhooks.deliveries WHERE endpoint_id = $1 AND status = 'pending' AND ordered ORDER BY account_id, seq`,
    [endpointId],
  );
  const byQueue = new Map<string, boolean[]>();
  for (const row of rows) byQueue.set(row.account_id, [...(byQueue.get(row.account_id) ?? []), row.head]);
  return byQueue;
}

describe('queue heads', { timeout: 120_000 }, () => {
  it('fan-outs racing finished heads leave every queue exactly one head, its oldest, and delivery order intact', async () => {
    const endpointId = await endpoint();
    const accounts = Array.from({ length: 4 }, () => randomUUID());
    const sent = new Map<string, string[]>(accounts.map((a) => [a, []]));
    let stop = false;
    // Two dispatchers: claim heads, "send", record success, as fast as they can.
    const dispatcher = async () => {
      const token = randomUUID();
      for (let round = 0; round < 20_000; round += 1) {
        const claimed = await claimDue(pool, { limit: 8, leaseMs: LEASE_MS, leaseToken: token, endpointShare: 8, busy: new Map() });
        if (claimed.length === 0 && stop) break;
        await Promise.all(
          claimed.map(async (d) => {
            sent.get(d.accountId)!.push(d.eventId);
            expect(await recordAttempt(pool, d, { status: 'succeeded', statusCode: 200, secretVersions: [1] })).toBe(true);
          }),
        );
      }
    };
    const dispatching = Promise.all([dispatcher(), dispatcher()]);
    // Fan-outs, one event each, several at once: a queue often holds only its head when the next arrives.
    for (let round = 0; round < 150; round += 1) {
      await Promise.all(accounts.map((account) => fanOut(endpointId, [event(account)])));
    }
    stop = true;
    await dispatching;
    // Nothing stuck: every queue drained (a headless queue would keep its pending rows).
    expect([...(await queues(endpointId)).values()].flat()).toEqual([]);
    const { rows } = await pool.query<{ account_id: string; event_id: string }>(`SELECT account_id, event_id FROM webhooks.deliveries WHERE endpoint_id = $1 ORDER BY seq`, [
      endpointId,
    ]);
    const published = new Map<string, string[]>(accounts.map((a) => [a, []]));
    for (const row of rows) published.get(row.account_id)!.push(row.event_id);
    // Each account's deliveries went out once each, in their queue's order.
    for (const account of accounts) expect(sent.get(account)).toEqual(published.get(account));
  });

  it('a fan-out to a queue and its head finishing both wait for the queue lock', async () => {
    const endpointId = await endpoint();
    const account = randomUUID();
    await fanOut(endpointId, [event(account)]);
    const [head] = (await claimDue(pool, { limit: 8, leaseMs: LEASE_MS, leaseToken: randomUUID(), endpointShare: 8, busy: new Map() })).filter(
      (d) => d.endpointId === endpointId,
    );
    const holder = await pool.connect();
    const waiting = () =>
      pool
        .query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
        .then((r) => r.rows[0]!.n);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock(hashtext($1::uuid::text), hashtext($2::uuid::text))', [endpointId, account]);
      const finishing = recordAttempt(pool, head!, { status: 'succeeded', statusCode: 200, secretVersions: [1] });
      await waitFor(async () => (await waiting()) === 1, { timeoutMs: 10_000, what: 'the finishing head to wait for the queue lock' });
      const adding = fanOut(endpointId, [event(account)]);
      await waitFor(async () => (await waiting()) === 2, { timeoutMs: 10_000, what: 'the fan-out to wait for the queue lock' });
      await holder.query('COMMIT');
      expect(await finishing).toBe(true);
      expect(await adding).toEqual({ fresh: 1, deliveries: 1 });
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    }
    expect(await queues(endpointId)).toEqual(new Map([[account, [true]]]));
  });

  it('a queue left without a head (a process of the release before heads) is repaired, and only then claimable', async () => {
    const endpointId = await endpoint();
    const account = randomUUID();
    await fanOut(endpointId, [event(account), event(account)]);
    await pool.query(`UPDATE webhooks.deliveries SET head = false WHERE endpoint_id = $1`, [endpointId]);
    const claim = () => claimDue(pool, { limit: 8, leaseMs: LEASE_MS, leaseToken: randomUUID(), endpointShare: 8, busy: new Map() });
    expect((await claim()).filter((d) => d.endpointId === endpointId)).toEqual([]);
    expect(await repairHeads(pool)).toBeGreaterThanOrEqual(1);
    expect(await queues(endpointId)).toEqual(new Map([[account, [true, false]]]));
    expect(await repairHeads(pool)).toBe(0);
    expect((await claim()).filter((d) => d.endpointId === endpointId)).toHaveLength(1);
  });

  it('a retried head stays the head; a failed one (given up) hands over to the next', async () => {
    const endpointId = await endpoint();
    const account = randomUUID();
    await fanOut(endpointId, [event(account), event(account)]);
    const claim = async () =>
      (await claimDue(pool, { limit: 8, leaseMs: LEASE_MS, leaseToken: randomUUID(), endpointShare: 8, busy: new Map() })).filter((d) => d.endpointId === endpointId);
    const [first] = await claim();
    expect(await recordAttempt(pool, first!, { status: 'pending', statusCode: 500, error: 'HTTP 500', nextAttemptAt: new Date(Date.now() - 1), secretVersions: [1] })).toBe(true);
    expect(await queues(endpointId)).toEqual(new Map([[account, [true, false]]]));
    const [again] = await claim();
    expect(again!.id).toBe(first!.id);
    expect(await recordAttempt(pool, again!, { status: 'failed', statusCode: 500, error: 'HTTP 500', secretVersions: [1] })).toBe(true);
    expect(await queues(endpointId)).toEqual(new Map([[account, [true]]]));
    const [next] = await claim();
    expect(next!.id).not.toBe(first!.id);
  });

  it('the claim keeps an endpoint to its share, counting the sends already in flight', async () => {
    const endpointId = await endpoint();
    await fanOut(endpointId, Array.from({ length: 6 }, () => event(randomUUID())));
    const claim = (busy: Map<string, number>) =>
      claimDue(pool, { limit: 8, leaseMs: LEASE_MS, leaseToken: randomUUID(), endpointShare: 4, busy }).then((ds) => ds.filter((d) => d.endpointId === endpointId));
    expect(await claim(new Map([[endpointId, 3]]))).toHaveLength(1);
    expect(await claim(new Map([[endpointId, 4]]))).toHaveLength(0);
    expect(await claim(new Map())).toHaveLength(4);
  });
});
