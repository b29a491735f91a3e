import type pg from 'pg';
import { isRole, type Role } from '../domain/roles.js';

export interface ClientRow {
  clientId: string;
  secretHash: string;
  roles: Role[];
  scopes: string[];
}

export class PgClientStore {
  constructor(private readonly pool: pg.Pool) {}

  async find(clientId: string): Promise<ClientRow | undefined> {
    const { rows } = await this.pool.query<{ client_id: string; secret_hash: string; roles: string[]; scopes: string[] }>(
      'SELECT client_id, secret_hash, roles, scopes FROM identity.clients WHERE client_id = $1',
      [clientId],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { clientId: row.client_id, secretHash: row.secret_hash, roles: row.roles.filter(isRole), scopes: row.scopes };
  }

  /** Creates or replaces a client (seeding from configuration is the source of truth). */
  async upsert(client: ClientRow): Promise<void> {
    await this.pool.query(
      `INSERT INTO identity.clients (client_id, secret_hash, roles, scopes) VALUES ($1, $2, $3, $4)
       ON CONFLICT (client_id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, roles = EXCLUDED.roles,
         scopes = EXCLUDED.scopes, updated_at = now()`,
      [client.clientId, client.secretHash, client.roles, client.scopes],
    );
  }
}
