import { describe, expect, it } from 'vitest';
import { charCount, isPlausiblePassword, passwordError, registrationErrors, usernameError } from '../../src/domain/credentials.js';

describe('registration rules', () => {
  it.each(['abc', 'a'.repeat(64), 'alice.b_c-9'])('accepts username %s', (name) => expect(usernameError(name)).toBeUndefined());
  it.each(['ab', 'a'.repeat(65), 'Alice', 'al ice', 'alice@x', 'ålice', '', 'abc\n'])('refuses username %j', (name) =>
    expect(usernameError(name)).toBeDefined(),
  );

  it('counts password length in characters (code points), 12 to 128', () => {
    expect(charCount('😀😀')).toBe(2);
    expect(passwordError('x'.repeat(11))).toMatch(/at least 12/);
    expect(passwordError('x'.repeat(12))).toBeUndefined();
    expect(passwordError('😀'.repeat(128))).toBeUndefined();
    expect(passwordError('😀'.repeat(129))).toMatch(/at most 128/);
    expect(passwordError('x'.repeat(100_000))).toMatch(/at most 128/);
    expect(passwordError(123)).toBe('must be a string');
  });

  it('reports one error per bad field, unknown fields included', () => {
    expect(registrationErrors({ username: 'ok-name', password: 'long-enough-pw' })).toEqual([]);
    expect(registrationErrors({ username: 'x', password: 'y', extra: 1 }).map((e) => e.field)).toEqual(['username', 'password', 'extra']);
    expect(registrationErrors('text')).toEqual([{ field: '', message: expect.any(String) }]);
  });

  it('never spends argon2 on a password outside the bounds', () => {
    expect(isPlausiblePassword('short')).toBe(false);
    expect(isPlausiblePassword('p'.repeat(129))).toBe(false);
    expect(isPlausiblePassword('just-right-pw')).toBe(true);
  });
});
