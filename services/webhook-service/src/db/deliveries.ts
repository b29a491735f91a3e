// SQL of events and deliveries: fan-out, the dispatcher's claim and outcome,
// the delivery log and redelivery.
import type pg from 'pg';
import { withTransaction } from '@wallet/platform/db';
import type { DeliveryRecord, DeliveryStatus, LogCursor } from '../domain/delivery.js';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  account_id: string;
  status: DeliveryStatus;
  attempts: number;
  last_status_code: number;
  last_error: string;
  created_at: Date;
  next_attempt_at: Date;
  delivered_at: Date | null;
  last_secret_versions: number[];
}

const COLUMNS =
  'd.id, d.endpoint_id, d.event_id, d.event_type, d.account_id, d.status, d.attempts, d.last_status_code, d.last_error, d.created_at, d.next_attempt_at, d.delivered_at, d.last_secret_versions';

function fromRow(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    accountId: row.account_id,
    status: row.status,
    attempts: row.attempts,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    createdAt: row.created_at,
    nextAttemptAt: row.next_attempt_at,
    deliveredAt: row.delivered_at,
    secretVersions: row.last_secret_versions,
  };
}

export interface IncomingEvent {
  eventId: string;
  eventType: string;
  accountId: string;
  body: string;
}

export interface PlannedDelivery {
  id: string;
  endpointId: string;
  eventId: string;
}

/**
 * Stores a batch of events and their deliveries in one transaction. Events
 * seen before (redelivered by Kafka) are skipped with their deliveries, so
 * the fan-out is idempotent on eventId. `plan` runs on the new events only.
 * Deliveries get seq in the order given (the events' consumption order).
 */
export async function storeEvents(
  pool: pg.Pool,
  events: readonly IncomingEvent[],
  plan: (fresh: readonly IncomingEvent[]) => PlannedDelivery[],
  retryWindowMs: number,
): Promise<{ fresh: number; deliveries: number }> {
  // Kafka may hand the same event twice in one batch: the first copy counts (else its deliveries would clash).
  const firsts = new Map<string, IncomingEvent>();
  for (const event of events) if (!firsts.has(event.eventId)) firsts.set(event.eventId, event);
  const unique = [...firsts.values()];
  return storeUnique(pool, unique, plan, retryWindowMs);
}

async function storeUnique(
  pool: pg.Pool,
  events: readonly IncomingEvent[],
  plan: (fresh: readonly IncomingEvent[]) => PlannedDelivery[],
  retryWindowMs: number,
): Promise<{ fresh: number; deliveries: number }> {
  return withTransaction(pool, 'BEGIN', async (client) => {
    const inserted = await client.query<{ event_id: string }>(
      `INSERT INTO webhooks.events (event_id, event_type, account_id, body)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[])
       ON CONFLICT (event_id) DO NOTHING RETURNING event_id`,
      [events.map((e) => e.eventId), events.map((e) => e.eventType), events.map((e) => e.accountId), events.map((e) => e.body)],
    );
    const freshIds = new Set(inserted.rows.map((row) => row.event_id));
    const fresh = events.filter((event) => freshIds.has(event.eventId));
    const planned = plan(fresh);
    if (planned.length > 0) {
      // WITH ORDINALITY keeps the given order, so seq follows the events' order.
      await client.query(
        `INSERT INTO webhooks.deliveries (id, endpoint_id, event_id, event_type, account_id, created_at, next_attempt_at, give_up_at)
         SELECT p.id, p.endpoint_id, p.event_id, e.event_type, e.account_id, t.now, t.now, t.now + make_interval(secs => $4::double precision / 1000)
           FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) WITH ORDINALITY AS p(id, endpoint_id, event_id, n)
           JOIN webhooks.events e ON e.event_id = p.event_id
           CROSS JOIN (SELECT date_trunc('milliseconds', now()) AS now) t
          ORDER BY p.n`,
        [planned.map((d) => d.id), planned.map((d) => d.endpointId), planned.map((d) => d.eventId), retryWindowMs],
      );
      const byId = new Map(fresh.map((event) => [event.eventId, event.accountId]));
      const queues = planned.map((d) => ({ endpointId: d.endpointId, accountId: byId.get(d.eventId)! }));
      await lockQueues(client, queues);
      await promoteHeads(client, queues);
    }
    return { fresh: fresh.length, deliveries: planned.length };
  });
}

/** A secret version that may sign (current, or replaced and still in its grace period). */
export interface ClaimedSecret {
  version: number;
  ciphertext: Buffer;
  expiresAt: Date | null;
}

export interface ClaimedDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  accountId: string;
  url: string;
  body: string;
  secrets: ClaimedSecret[];
  attempts: number;
  giveUpAt: Date;
  leaseToken: string;
}

export interface ClaimRequest {
  limit: number;
  leaseMs: number;
  leaseToken: string;
  /** Sends in flight to one endpoint at most, counting `busy`. */
  endpointShare: number;
  /** Sends this dispatcher has in flight, per endpoint id. */
  busy: ReadonlyMap<string, number>;
}

/** Due heads looked at per claim, per delivery asked: bounds the claim's cost whatever the backlog. */
const SCAN_PER_CLAIMED = 4;

/**
 * Claims up to `limit` due deliveries that are the head of their (endpoint,
 * account) queue (an earlier pending delivery holds later ones back), or due
 * unordered ones (manual redeliveries), at most `endpointShare` per endpoint
 * with those in flight, leasing each for leaseMs so no other dispatcher sends
 * it meanwhile. SKIP LOCKED: replicas share the work. It reads only due heads
 * (partial index deliveries_ready), the oldest first, at most
 * SCAN_PER_CLAIMED × limit of them, skipping endpoints already at their share.
 */
export async function claimDue(pool: pg.Pool, request: ClaimRequest): Promise<ClaimedDelivery[]> {
  const { limit, leaseMs, leaseToken, endpointShare, busy } = request;
  const saturated = [...busy].filter(([, n]) => n >= endpointShare).map(([endpointId]) => endpointId);
  return withTransaction(pool, 'BEGIN', async (client) => {
    const { rows } = await client.query<{
      id: string;
      endpoint_id: string;
      event_id: string;
      account_id: string;
      url: string;
      body: string;
      secrets: Array<{ version: number; ciphertext: string; expires_at: string | null }>;
      attempts: number;
      give_up_at: Date;
    }>(
      `WITH due AS MATERIALIZED (
         SELECT d.id, d.endpoint_id, d.next_attempt_at
           FROM webhooks.deliveries d
          WHERE d.status = 'pending' AND (d.head OR NOT d.ordered) AND d.next_attempt_at <= now()
            AND (d.lease_until IS NULL OR d.lease_until < now()) AND d.endpoint_id <> ALL($5::uuid[])
          ORDER BY d.next_attempt_at
          LIMIT $6
       ), ranked AS MATERIALIZED (
         SELECT due.id, due.next_attempt_at,
                row_number() OVER (PARTITION BY due.endpoint_id ORDER BY due.next_attempt_at) + coalesce(b.n, 0) AS place
           FROM due
           LEFT JOIN unnest($2::uuid[], $3::int[]) AS b(endpoint_id, n) ON b.endpoint_id = due.endpoint_id
       )
       SELECT d.id, d.endpoint_id, d.event_id, d.account_id, en.url, ev.body, d.attempts, d.give_up_at,
              (SELECT coalesce(json_agg(json_build_object('version', s.version, 'ciphertext', encode(s.secret_ciphertext, 'base64'), 'expires_at', s.expires_at)
                                        ORDER BY s.version DESC), '[]'::json)
                 FROM webhooks.endpoint_secrets s
                WHERE s.endpoint_id = en.id AND (s.expires_at IS NULL OR s.expires_at > now())) AS secrets
         FROM ranked
         JOIN webhooks.deliveries d ON d.id = ranked.id
         JOIN webhooks.endpoints en ON en.id = d.endpoint_id
         JOIN webhooks.events ev ON ev.event_id = d.event_id
        WHERE ranked.place <= $4 AND d.status = 'pending' AND (d.head OR NOT d.ordered) AND (d.lease_until IS NULL OR d.lease_until < now())
        ORDER BY ranked.next_attempt_at
        LIMIT $1
        FOR UPDATE OF d SKIP LOCKED`,
      [limit, [...busy.keys()], [...busy.values()], endpointShare, saturated, limit * SCAN_PER_CLAIMED],
    );
    if (rows.length === 0) return [];
    await client.query(
      `UPDATE webhooks.deliveries SET lease_token = $2, lease_until = now() + make_interval(secs => $3::double precision / 1000), attempts = attempts + 1
        WHERE id = ANY($1::uuid[])`,
      [rows.map((row) => row.id), leaseToken, leaseMs],
    );
    return rows.map((row) => ({
      id: row.id,
      endpointId: row.endpoint_id,
      eventId: row.event_id,
      accountId: row.account_id,
      url: row.url,
      body: row.body,
      secrets: row.secrets.map((secret) => ({
        version: secret.version,
        ciphertext: Buffer.from(secret.ciphertext, 'base64'),
        expiresAt: secret.expires_at === null ? null : new Date(secret.expires_at),
      })),
      attempts: row.attempts + 1,
      giveUpAt: row.give_up_at,
      leaseToken,
    }));
  });
}

export type AttemptRecord = (
  | { status: 'succeeded'; statusCode: number }
  | { status: 'pending'; statusCode: number; error: string; nextAttemptAt: Date }
  | { status: 'failed'; statusCode: number; error: string }
) & { secretVersions: number[] };

export interface LeasedDelivery {
  id: string;
  endpointId: string;
  accountId: string;
  leaseToken: string;
}

/**
 * Records an attempt's outcome if this dispatcher still holds the lease
 * (false: someone else took over). A finished delivery (succeeded, failed)
 * hands its queue's head to the next pending one, in the same transaction
 * and under the queue's lock.
 */
export async function recordAttempt(pool: pg.Pool, delivery: LeasedDelivery, attempt: AttemptRecord): Promise<boolean> {
  const error = attempt.status === 'succeeded' ? '' : attempt.error;
  const nextAttemptAt = attempt.status === 'pending' ? attempt.nextAttemptAt : null;
  const update = (db: Queryable) =>
    db.query(
      `UPDATE webhooks.deliveries
          SET status = $3, last_status_code = $4, last_error = $5,
              next_attempt_at = COALESCE($6::timestamptz, next_attempt_at),
              delivered_at = CASE WHEN $3 = 'succeeded' THEN now() ELSE delivered_at END,
              last_secret_versions = $7::integer[],
              lease_token = NULL, lease_until = NULL
        WHERE id = $1 AND lease_token = $2 AND status = 'pending'`,
      [delivery.id, delivery.leaseToken, attempt.status, attempt.statusCode, error.slice(0, 200), nextAttemptAt, attempt.secretVersions],
    );
  // Still pending: it stays its queue's head, nothing else changes.
  if (attempt.status === 'pending') return (await update(pool)).rowCount === 1;
  return withTransaction(pool, 'BEGIN', async (client) => {
    await lockQueues(client, [delivery]);
    const { rowCount } = await update(client);
    if (rowCount === 1) await promoteHeads(client, [delivery]);
    return rowCount === 1;
  });
}

interface QueueKey {
  endpointId: string;
  accountId: string;
}

/**
 * Takes the queues' advisory locks (transaction-scoped, two-key form: its own
 * key space, apart from the bank's one-key locks), in one order so that two
 * fan-outs never deadlock. Fan-out and a finishing head of one queue are so
 * serialised: without it, each could miss the other's uncommitted row and
 * leave a queue with no head, stuck.
 */
async function lockQueues(client: Queryable, queues: readonly QueueKey[]): Promise<void> {
  const keys = [...new Map(queues.map((q) => [`${q.endpointId}/${q.accountId}`, q])).values()].sort((a, b) =>
    a.endpointId === b.endpointId ? a.accountId.localeCompare(b.accountId) : a.endpointId.localeCompare(b.endpointId),
  );
  // unnest yields in array order, so the locks are taken in the sorted order.
  await client.query(`SELECT count(pg_advisory_xact_lock(hashtext(q.e::text), hashtext(q.a::text))) FROM unnest($1::uuid[], $2::uuid[]) AS q(e, a)`, [
    keys.map((q) => q.endpointId),
    keys.map((q) => q.accountId),
  ]);
}

/** Marks each queue's oldest pending ordered delivery its head (a no-op where it already is); the caller holds the queues' locks. */
async function promoteHeads(client: Queryable, queues: readonly QueueKey[]): Promise<void> {
  await client.query(
    `UPDATE webhooks.deliveries d SET head = true
       FROM (SELECT DISTINCT ON (q.endpoint_id, q.account_id) q.id
               FROM webhooks.deliveries q
               JOIN (SELECT DISTINCT e, a FROM unnest($1::uuid[], $2::uuid[]) AS k(e, a)) k ON q.endpoint_id = k.e AND q.account_id = k.a
              WHERE q.status = 'pending' AND q.ordered
              ORDER BY q.endpoint_id, q.account_id, q.seq) h
      WHERE d.id = h.id AND NOT d.head`,
    [queues.map((q) => q.endpointId), queues.map((q) => q.accountId)],
  );
}

/**
 * The safety net: marks the head of every queue that has pending ordered
 * deliveries but no head (only a process of the release before heads, during
 * a rolling upgrade, leaves one). Answers how many it marked. Reads every
 * pending delivery: run it rarely.
 */
export async function repairHeads(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE webhooks.deliveries d SET head = true
       FROM (SELECT DISTINCT ON (endpoint_id, account_id) id, head
               FROM webhooks.deliveries
              WHERE status = 'pending' AND ordered
              ORDER BY endpoint_id, account_id, seq) h
      WHERE d.id = h.id AND NOT h.head AND NOT d.head`,
  );
  return rowCount ?? 0;
}

/** The endpoint's delivery log, newest first, after the cursor. */
export async function listDeliveries(db: Queryable, endpointId: string, limit: number, after: LogCursor | undefined): Promise<DeliveryRecord[]> {
  const { rows } = after
    ? await db.query<DeliveryRow>(
        `SELECT ${COLUMNS} FROM webhooks.deliveries d WHERE d.endpoint_id = $1 AND (d.created_at, d.id) < ($2::timestamptz, $3::uuid)
          ORDER BY d.created_at DESC, d.id DESC LIMIT $4`,
        [endpointId, after.createdAt, after.id, limit],
      )
    : await db.query<DeliveryRow>(`SELECT ${COLUMNS} FROM webhooks.deliveries d WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.id DESC LIMIT $2`, [endpointId, limit]);
  return rows.map(fromRow);
}

/**
 * Queues one more attempt now. A pending delivery keeps its place in its
 * account's order; a finished one is queued out of order (it no longer holds
 * back later deliveries) with a fresh retry window.
 */
export async function redeliver(db: Queryable, endpointId: string, deliveryId: string, retryWindowMs: number): Promise<DeliveryRecord | undefined> {
  const { rows } = await db.query<DeliveryRow>(
    `UPDATE webhooks.deliveries d
        SET ordered = CASE WHEN d.status = 'pending' THEN d.ordered ELSE false END,
            status = 'pending', next_attempt_at = now(),
            give_up_at = GREATEST(d.give_up_at, now() + make_interval(secs => $3::double precision / 1000))
      WHERE d.id = $2 AND d.endpoint_id = $1
        AND EXISTS (SELECT 1 FROM webhooks.endpoints en WHERE en.id = d.endpoint_id AND en.enabled)
      RETURNING ${COLUMNS}`,
    [endpointId, deliveryId, retryWindowMs],
  );
  return rows[0] && fromRow(rows[0]);
}

export async function findDelivery(db: Queryable, endpointId: string, deliveryId: string): Promise<DeliveryRecord | undefined> {
  const { rows } = await db.query<DeliveryRow>(`SELECT ${COLUMNS} FROM webhooks.deliveries d WHERE d.id = $2 AND d.endpoint_id = $1`, [endpointId, deliveryId]);
  return rows[0] && fromRow(rows[0]);
}

/** Queue depth and age of the oldest pending delivery (metrics). */
export async function queueStats(db: Queryable): Promise<{ pending: number; oldestAgeSeconds: number }> {
  const { rows } = await db.query<{ pending: number; oldest: number | null }>(
    `SELECT count(*)::int AS pending, EXTRACT(EPOCH FROM now() - min(created_at))::float8 AS oldest FROM webhooks.deliveries WHERE status = 'pending'`,
  );
  return { pending: rows[0]?.pending ?? 0, oldestAgeSeconds: rows[0]?.oldest ?? 0 };
}

