// Roles a principal may hold. The resource server (gateway, bank) decides
// what each role may do; here they are only issued.
export const ROLES = ['customer', 'support', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Scope a client-credentials token needs to read users through GET /users/{id}. */
export const USERS_READ_SCOPE = 'identity.users.read';
/** Scope of every user (password / refresh) token. */
export const USER_TOKEN_SCOPE = 'wallet';
