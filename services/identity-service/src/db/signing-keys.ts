import type pg from 'pg';
import { withTransaction } from '@wallet/platform/db';
import type { JWK } from 'jose';

export interface StoredKey {
  kid: string;
  algorithm: 'ES256' | 'EdDSA';
  publicJwk: JWK;
  privateJwkEncrypted: Buffer;
  createdAtMs: number;
  supersededAtMs: number | null;
}

interface DbKey {
  kid: string;
  algorithm: 'ES256' | 'EdDSA';
  public_jwk: JWK;
  private_jwk_encrypted: Buffer;
  created_at: Date;
  superseded_at: Date | null;
}

const toKey = (row: DbKey): StoredKey => ({
  kid: row.kid,
  algorithm: row.algorithm,
  publicJwk: row.public_jwk,
  privateJwkEncrypted: row.private_jwk_encrypted,
  createdAtMs: row.created_at.getTime(),
  supersededAtMs: row.superseded_at?.getTime() ?? null,
});

const COLUMNS = 'kid, algorithm, public_jwk, private_jwk_encrypted, created_at, superseded_at';
/** Serialises rotations across replicas (transaction-scoped advisory lock). */
const ROTATION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('identity.signing_keys.rotation'))";

export class PgSigningKeyStore {
  constructor(private readonly pool: pg.Pool) {}

  /** The current key and every superseded key still within its publication window. */
  async published(nowMs: number, retainMs: number): Promise<StoredKey[]> {
    const { rows } = await this.pool.query<DbKey>(
      `SELECT ${COLUMNS} FROM identity.signing_keys
       WHERE superseded_at IS NULL OR superseded_at > $1 ORDER BY created_at DESC`,
      [new Date(nowMs - retainMs)],
    );
    return rows.map(toKey);
  }

  /**
   * Inserts a new current key and supersedes the old one, under a lock, unless
   * `shouldRotate` (given the current key, if any) says no: replicas racing to
   * rotate produce one new key, not several.
   */
  async rotate(
    nowMs: number,
    shouldRotate: (current: StoredKey | undefined) => boolean,
    create: () => Promise<Omit<StoredKey, 'createdAtMs' | 'supersededAtMs'>>,
  ): Promise<boolean> {
    return withTransaction(this.pool, 'BEGIN', async (client) => {
      await client.query(ROTATION_LOCK);
      const { rows } = await client.query<DbKey>(`SELECT ${COLUMNS} FROM identity.signing_keys WHERE superseded_at IS NULL`);
      if (!shouldRotate(rows[0] ? toKey(rows[0]) : undefined)) return false;
      const key = await create();
      await client.query('UPDATE identity.signing_keys SET superseded_at = $1 WHERE superseded_at IS NULL', [new Date(nowMs)]);
      await client.query(
        'INSERT INTO identity.signing_keys (kid, algorithm, public_jwk, private_jwk_encrypted, created_at) VALUES ($1, $2, $3, $4, $5)',
        [key.kid, key.algorithm, JSON.stringify(key.publicJwk), key.privateJwkEncrypted, new Date(nowMs)],
      );
      return true;
    });
  }
}
