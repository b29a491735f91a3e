// SQL of webhook endpoints.
import type pg from 'pg';
import { withTransaction } from '@wallet/platform/db';
import type { EndpointRecord } from '../domain/endpoint.js';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

interface EndpointRow {
  id: string;
  owner_id: string;
  all_accounts: boolean;
  url: string;
  events: string[];
  enabled: boolean;
  created_at: Date;
}

const COLUMNS = 'id, owner_id, all_accounts, url, events, enabled, created_at';

function fromRow(row: EndpointRow): EndpointRecord {
  return { id: row.id, ownerId: row.owner_id, allAccounts: row.all_accounts, url: row.url, events: row.events, enabled: row.enabled, createdAt: row.created_at };
}

export interface NewEndpoint {
  id: string;
  ownerId: string;
  allAccounts: boolean;
  url: string;
  events: string[];
  secretCiphertext: Buffer;
  idempotencyKey: string;
  requestHash: string;
}

export type InsertResult =
  | { kind: 'created'; endpoint: EndpointRecord }
  | { kind: 'existing'; endpoint: EndpointRecord; requestHash: string }
  | { kind: 'too_many' };

/**
 * Inserts the endpoint unless the owner already used the key (then answers that
 * one) or has endpointsMax enabled endpoints. One transaction under a per-owner
 * advisory lock, so concurrent registrations count right.
 */
export async function insertEndpoint(pool: pg.Pool, input: NewEndpoint, endpointsMax: number): Promise<InsertResult> {
  return withTransaction(pool, 'BEGIN', async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 15))', [`webhook-owner:${input.ownerId}`]);
    const existing = await client.query<EndpointRow & { request_hash: string }>(
      `SELECT ${COLUMNS}, request_hash FROM webhooks.endpoints WHERE owner_id = $1 AND idempotency_key = $2`,
      [input.ownerId, input.idempotencyKey],
    );
    const row = existing.rows[0];
    if (row) return { kind: 'existing', endpoint: fromRow(row), requestHash: row.request_hash };
    const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM webhooks.endpoints WHERE owner_id = $1 AND enabled', [input.ownerId]);
    if ((count.rows[0]?.n ?? 0) >= endpointsMax) return { kind: 'too_many' };
    const inserted = await client.query<EndpointRow>(
      `INSERT INTO webhooks.endpoints (id, owner_id, all_accounts, url, events, enabled, secret_ciphertext, idempotency_key, request_hash, created_at)
       VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, date_trunc('milliseconds', now()))
       RETURNING ${COLUMNS}`,
      [input.id, input.ownerId, input.allAccounts, input.url, input.events, input.secretCiphertext, input.idempotencyKey, input.requestHash],
    );
    return { kind: 'created', endpoint: fromRow(inserted.rows[0]!) };
  });
}

export async function findEndpoint(db: Queryable, id: string): Promise<EndpointRecord | undefined> {
  const { rows } = await db.query<EndpointRow>(`SELECT ${COLUMNS} FROM webhooks.endpoints WHERE id = $1`, [id]);
  return rows[0] && fromRow(rows[0]);
}

/** The owner's endpoints, deleted ones included (enabled=false), oldest first; bounded. */
export async function listEndpoints(db: Queryable, ownerId: string, limit: number): Promise<EndpointRecord[]> {
  const { rows } = await db.query<EndpointRow>(`SELECT ${COLUMNS} FROM webhooks.endpoints WHERE owner_id = $1 ORDER BY created_at, id LIMIT $2`, [ownerId, limit]);
  return rows.map(fromRow);
}

/** Disables the endpoint and gives up its pending deliveries; answers it (already disabled: unchanged). */
export async function disableEndpoint(pool: pg.Pool, id: string): Promise<EndpointRecord | undefined> {
  return withTransaction(pool, 'BEGIN', async (client) => {
    const { rows } = await client.query<EndpointRow>(
      `UPDATE webhooks.endpoints SET enabled = false, disabled_at = COALESCE(disabled_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    if (!rows[0]) return undefined;
    await client.query(
      `UPDATE webhooks.deliveries SET status = 'failed', last_error = 'endpoint deleted', lease_token = NULL, lease_until = NULL
        WHERE endpoint_id = $1 AND status = 'pending'`,
      [id],
    );
    return fromRow(rows[0]);
  });
}

export async function endpointSecret(db: Queryable, id: string): Promise<Buffer | undefined> {
  const { rows } = await db.query<{ secret_ciphertext: Buffer }>('SELECT secret_ciphertext FROM webhooks.endpoints WHERE id = $1', [id]);
  return rows[0]?.secret_ciphertext;
}

/** Enabled endpoints subscribed to any of these event types (the fan-out's candidates). */
export async function subscribedEndpoints(db: Queryable, eventTypes: readonly string[]): Promise<EndpointRecord[]> {
  const { rows } = await db.query<EndpointRow>(`SELECT ${COLUMNS} FROM webhooks.endpoints WHERE enabled AND events && $1::text[]`, [eventTypes]);
  return rows.map(fromRow);
}
