// Registration rules for usernames and passwords. Pure.

export const USERNAME_PATTERN = /^[a-z0-9._-]{3,64}$/;
export const PASSWORD_CHARS_MIN = 12;
/** Also the bound on what argon2 ever hashes: nothing longer reaches the hasher. */
export const PASSWORD_CHARS_MAX = 128;

export interface FieldError {
  field: string;
  message: string;
}

/** Characters as a user counts them (code points, not UTF-16 units). */
export function charCount(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

export function usernameError(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (!USERNAME_PATTERN.test(value)) return 'must be 3-64 characters of a-z, 0-9, ".", "_" or "-"';
  return undefined;
}

export function passwordError(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  // Cheap bound first: a huge string is refused before counting code points.
  if (value.length > PASSWORD_CHARS_MAX * 2) return `must be at most ${PASSWORD_CHARS_MAX} characters`;
  const chars = charCount(value);
  if (chars < PASSWORD_CHARS_MIN) return `must be at least ${PASSWORD_CHARS_MIN} characters`;
  if (chars > PASSWORD_CHARS_MAX) return `must be at most ${PASSWORD_CHARS_MAX} characters`;
  return undefined;
}

/** Field errors of a registration body; empty when valid. */
export function registrationErrors(body: unknown): FieldError[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return [{ field: '', message: 'must be a JSON object with username and password' }];
  }
  const record = body as Record<string, unknown>;
  const errors: FieldError[] = [];
  const username = usernameError(record.username);
  if (username) errors.push({ field: 'username', message: username });
  const password = passwordError(record.password);
  if (password) errors.push({ field: 'password', message: password });
  for (const key of Object.keys(record)) {
    if (key !== 'username' && key !== 'password') errors.push({ field: key.slice(0, 64), message: 'is not a known field' });
  }
  return errors;
}

/**
 * Whether a login attempt's password may be hashed at all: one outside the
 * registration bounds can never match, so it is refused without spending argon2.
 */
export function isPlausiblePassword(value: string): boolean {
  return passwordError(value) === undefined;
}
