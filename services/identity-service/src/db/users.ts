import type pg from 'pg';
import { isUniqueViolation } from '@wallet/platform/db';
import { isRole, type Role } from '../domain/roles.js';
import { UsernameTakenError } from '../domain/oauth-errors.js';

export interface UserRow {
  userId: string;
  username: string;
  passwordHash: string;
  roles: Role[];
}

interface DbUser {
  user_id: string;
  username: string;
  password_hash: string;
  roles: string[];
}

const toUser = (row: DbUser): UserRow => ({
  userId: row.user_id,
  username: row.username,
  passwordHash: row.password_hash,
  roles: row.roles.filter(isRole),
});

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PgUserStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Inserts a user; UsernameTakenError when the name exists. */
  async insert(user: UserRow): Promise<void> {
    try {
      await this.pool.query(
        'INSERT INTO identity.users (user_id, username, password_hash, roles) VALUES ($1, $2, $3, $4)',
        [user.userId, user.username, user.passwordHash, user.roles],
      );
    } catch (error) {
      if (isUniqueViolation(error, 'users_username_key')) throw new UsernameTakenError();
      throw error;
    }
  }

  /** Inserts unless the id or the username exists (dev seeding is idempotent). */
  async insertIfAbsent(user: UserRow): Promise<boolean> {
    const result = await this.pool.query(
      'INSERT INTO identity.users (user_id, username, password_hash, roles) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [user.userId, user.username, user.passwordHash, user.roles],
    );
    return result.rowCount === 1;
  }

  async usernameExists(username: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('SELECT 1 FROM identity.users WHERE username = $1', [username]);
    return rowCount === 1;
  }

  async findByUsername(username: string): Promise<UserRow | undefined> {
    const { rows } = await this.pool.query<DbUser>(
      'SELECT user_id, username, password_hash, roles FROM identity.users WHERE username = $1',
      [username],
    );
    return rows[0] ? toUser(rows[0]) : undefined;
  }

  async findById(userId: string): Promise<UserRow | undefined> {
    if (!UUID_PATTERN.test(userId)) return undefined;
    const { rows } = await this.pool.query<DbUser>(
      'SELECT user_id, username, password_hash, roles FROM identity.users WHERE user_id = $1',
      [userId],
    );
    return rows[0] ? toUser(rows[0]) : undefined;
  }
}
