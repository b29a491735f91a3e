// Registration, user lookup for internal callers, and seeding of users and clients.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { registrationErrors, USERNAME_PATTERN, type FieldError } from '../domain/credentials.js';
import { UsernameTakenError } from '../domain/oauth-errors.js';
import { ROLES, USERS_READ_SCOPE, type Role } from '../domain/roles.js';
import type { PgClientStore } from '../db/clients.js';
import type { PgUserStore } from '../db/users.js';
import type { PasswordHasher } from './password-hasher.js';

export class RegistrationInvalidError extends Error {
  override name = 'RegistrationInvalidError';
  constructor(readonly errors: FieldError[]) {
    super('the registration request is invalid');
  }
}

export interface PublicUser {
  userId: string;
  username: string;
  roles: Role[];
}

export class UserService {
  constructor(
    private readonly users: PgUserStore,
    private readonly hasher: PasswordHasher,
  ) {}

  /** New customer; RegistrationInvalidError (400) or UsernameTakenError (409). */
  async register(body: unknown): Promise<{ userId: string; username: string }> {
    const errors = registrationErrors(body);
    if (errors.length > 0) throw new RegistrationInvalidError(errors);
    const { username, password } = body as { username: string; password: string };
    // Checked before hashing so a taken name costs no argon2; the unique index settles races.
    if (await this.users.usernameExists(username)) throw new UsernameTakenError();
    const userId = randomUUID();
    await this.users.insert({ userId, username, passwordHash: await this.hasher.hash(password), roles: ['customer'] });
    return { userId, username };
  }

  /** The operator console's owner lookup; a name no user can have is simply not found. */
  async findByUsername(username: string): Promise<PublicUser | undefined> {
    if (!USERNAME_PATTERN.test(username)) return undefined;
    const user = await this.users.findByUsername(username);
    return user ? { userId: user.userId, username: user.username, roles: user.roles } : undefined;
  }

  async find(userId: string): Promise<PublicUser | undefined> {
    const user = await this.users.findById(userId);
    return user ? { userId: user.userId, username: user.username, roles: user.roles } : undefined;
  }
}

/** Development users (IDENTITY_SEED_DEV_USERS=true only), with fixed ids other services' seeds can refer to. */
export const DEV_USERS = [
  { userId: '11111111-1111-4111-8111-111111111111', username: 'alice', password: 'alice-wallet-demo-pw', roles: ['customer'] },
  { userId: '22222222-2222-4222-8222-222222222222', username: 'bob', password: 'bob-wallet-demo-pw', roles: ['customer'] },
  { userId: '33333333-3333-4333-8333-333333333333', username: 'support', password: 'support-wallet-demo-pw', roles: ['support'] },
  { userId: '44444444-4444-4444-8444-444444444444', username: 'admin', password: 'admin-wallet-demo-pw', roles: ['admin'] },
] as const satisfies readonly { userId: string; username: string; password: string; roles: Role[] }[];

/** The published development secret of the dev-back-office client (IDENTITY_DEV_CLIENT_SECRET's default outside production). */
export const DEV_CLIENT_SECRET = 'dev-back-office-secret-demo';

/** The development back-office client: admin role, may read users (GET /users/{id}). */
export const DEV_CLIENT: SeedClient = {
  clientId: 'dev-back-office',
  clientSecret: DEV_CLIENT_SECRET,
  roles: ['admin'],
  scopes: [USERS_READ_SCOPE],
};

const seedClientSchema = z.object({
  clientId: z.string().regex(/^[A-Za-z0-9._-]{3,64}$/),
  clientSecret: z.string().min(16).max(128),
  roles: z.array(z.enum(ROLES)).max(3).default([]),
  scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/)).max(32).default([]),
});
export type SeedClient = z.infer<typeof seedClientSchema>;

/** Reads IDENTITY_CLIENTS_FILE; the error names the file and the bad entry, never a secret. */
export function readClientsFile(file: string): SeedClient[] {
  const parsed = z.array(seedClientSchema).max(100).safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join('.')).join(', ');
    throw new Error(`IDENTITY_CLIENTS_FILE ${file}: invalid entries at ${where}`);
  }
  return parsed.data;
}

export async function seedDevUsers(users: PgUserStore, hasher: PasswordHasher): Promise<number> {
  let created = 0;
  for (const user of DEV_USERS) {
    if (await users.usernameExists(user.username)) continue;
    const passwordHash = await hasher.hash(user.password);
    if (await users.insertIfAbsent({ userId: user.userId, username: user.username, passwordHash, roles: [...user.roles] })) created += 1;
  }
  return created;
}

/** Upserts clients (configuration is the source of truth: a changed secret replaces the old one). */
export async function seedClients(clients: PgClientStore, hasher: PasswordHasher, seeds: SeedClient[]): Promise<void> {
  for (const seed of seeds) {
    const existing = await clients.find(seed.clientId);
    const secretHash = existing && (await hasher.verify(existing.secretHash, seed.clientSecret)) ? existing.secretHash : await hasher.hash(seed.clientSecret);
    await clients.upsert({ clientId: seed.clientId, secretHash, roles: seed.roles, scopes: seed.scopes });
  }
}
