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
  secret_version: number;
  previous_secret_expires_at: Date | null;
}

// The replaced version's grace end, if it has not passed (the table is named
// `endpoints` in every statement these columns are used in, RETURNING included).
const COLUMNS = `id, owner_id, all_accounts, url, events, enabled, created_at, secret_version,
  (SELECT s.expires_at FROM webhooks.endpoint_secrets s
    WHERE s.endpoint_id = endpoints.id AND s.version = endpoints.secret_version - 1 AND s.expires_at > now()) AS previous_secret_expires_at`;

function fromRow(row: EndpointRow): EndpointRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    allAccounts: row.all_accounts,
    url: row.url,
    events: row.events,
    enabled: row.enabled,
    createdAt: row.created_at,
    secretVersion: row.secret_version,
    previousSecretExpiresAt: row.previous_secret_expires_at,
  };
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
  | { kind: 'existing'; endpoint: EndpointRecord; requestHash: string; secretCiphertext: Buffer }
  | { kind: 'too_many' };

/**
 * Inserts the endpoint unless the owner already used the key (then answers that
 * one) or has endpointsMax enabled endpoints. One transaction under a per-owner
 * advisory lock, so concurrent registrations count right.
 */
export async function insertEndpoint(pool: pg.Pool, input: NewEndpoint, endpointsMax: number): Promise<InsertResult> {
  return withTransaction(pool, 'BEGIN', async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 15))', [`webhook-owner:${input.ownerId}`]);
    const existing = await client.query<EndpointRow & { request_hash: string; secret_ciphertext: Buffer }>(
      `SELECT ${COLUMNS}, request_hash, secret_ciphertext FROM webhooks.endpoints WHERE owner_id = $1 AND idempotency_key = $2`,
      [input.ownerId, input.idempotencyKey],
    );
    const row = existing.rows[0];
    if (row) return { kind: 'existing', endpoint: fromRow(row), requestHash: row.request_hash, secretCiphertext: row.secret_ciphertext };
    const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM webhooks.endpoints WHERE owner_id = $1 AND enabled', [input.ownerId]);
    if ((count.rows[0]?.n ?? 0) >= endpointsMax) return { kind: 'too_many' };
    const inserted = await client.query<EndpointRow>(
      `INSERT INTO webhooks.endpoints (id, owner_id, all_accounts, url, events, enabled, secret_ciphertext, idempotency_key, request_hash, created_at)
       VALUES ($1, $2, $3, $4, $5, true, $6, $7, $8, date_trunc('milliseconds', now()))
       RETURNING ${COLUMNS}`,
      [input.id, input.ownerId, input.allAccounts, input.url, input.events, input.secretCiphertext, input.idempotencyKey, input.requestHash],
    );
    const endpoint = fromRow(inserted.rows[0]!);
    await client.query('INSERT INTO webhooks.endpoint_secrets (endpoint_id, version, secret_ciphertext, created_at) VALUES ($1, 1, $2, $3)', [
      input.id,
      input.secretCiphertext,
      endpoint.createdAt,
    ]);
    return { kind: 'created', endpoint };
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

export interface RotationInput {
  endpointId: string;
  idempotencyKey: string;
  requestHash: string;
  graceMs: number;
  /** Encrypts the new secret for its version (known only under the lock). */
  seal: (version: number) => Buffer;
}

export interface StoredRotation {
  version: number;
  secretCiphertext: Buffer;
  createdAt: Date;
}

export type RotationResult =
  | { kind: 'rotated'; endpoint: EndpointRecord; rotation: StoredRotation }
  | { kind: 'existing'; endpoint: EndpointRecord; rotation: StoredRotation; requestHash: string }
  | { kind: 'not_found' };

/**
 * Adds the next secret version. The endpoint row is locked first, so rotations
 * of one endpoint run one after the other (each gets its own version; a
 * retried key finds its rotation). The replaced version signs until now +
 * graceMs; older ones stop now.
 */
export async function rotateSecret(pool: pg.Pool, input: RotationInput): Promise<RotationResult> {
  return withTransaction(pool, 'BEGIN', async (client) => {
    const locked = await client.query<{ secret_version: number; enabled: boolean }>('SELECT secret_version, enabled FROM webhooks.endpoints WHERE id = $1 FOR UPDATE', [input.endpointId]);
    const current = locked.rows[0];
    if (!current) return { kind: 'not_found' };
    const existing = await client.query<{ version: number; secret_ciphertext: Buffer; created_at: Date; request_hash: string }>(
      'SELECT version, secret_ciphertext, created_at, request_hash FROM webhooks.endpoint_secrets WHERE endpoint_id = $1 AND idempotency_key = $2',
      [input.endpointId, input.idempotencyKey],
    );
    const found = existing.rows[0];
    if (found) {
      const rotation = { version: found.version, secretCiphertext: found.secret_ciphertext, createdAt: found.created_at };
      return { kind: 'existing', endpoint: (await findEndpoint(client, input.endpointId))!, rotation, requestHash: found.request_hash };
    }
    if (!current.enabled) return { kind: 'not_found' };
    const version = current.secret_version + 1;
    const secretCiphertext = input.seal(version);
    await client.query(
      `UPDATE webhooks.endpoint_secrets
          SET expires_at = CASE WHEN version = $2 THEN now() + make_interval(secs => $3::double precision / 1000) ELSE now() END
        WHERE endpoint_id = $1 AND version <= $2 AND (expires_at IS NULL OR expires_at > now())`,
      [input.endpointId, current.secret_version, input.graceMs],
    );
    const inserted = await client.query<{ created_at: Date }>(
      `INSERT INTO webhooks.endpoint_secrets (endpoint_id, version, secret_ciphertext, idempotency_key, request_hash, created_at)
       VALUES ($1, $2, $3, $4, $5, date_trunc('milliseconds', now())) RETURNING created_at`,
      [input.endpointId, version, secretCiphertext, input.idempotencyKey, input.requestHash],
    );
    const updated = await client.query<EndpointRow>(`UPDATE webhooks.endpoints SET secret_version = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [input.endpointId, version]);
    const rotation = { version, secretCiphertext, createdAt: inserted.rows[0]!.created_at };
    return { kind: 'rotated', endpoint: fromRow(updated.rows[0]!), rotation };
  });
}

/** Enabled endpoints subscribed to any of these event types (the fan-out's candidates). */
export async function subscribedEndpoints(db: Queryable, eventTypes: readonly string[]): Promise<EndpointRecord[]> {
  const { rows } = await db.query<EndpointRow>(`SELECT ${COLUMNS} FROM webhooks.endpoints WHERE enabled AND events && $1::text[]`, [eventTypes]);
  return rows.map(fromRow);
}
