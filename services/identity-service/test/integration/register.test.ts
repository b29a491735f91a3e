import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, register, startHarness, type Harness } from '../support/harness.js';

describe('POST /auth/register', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ IDENTITY_BODY_BYTES_MAX: '2048' });
  });
  afterAll(async () => h?.stop());

  it('creates a customer and answers 201 {userId, username}', async () => {
    const res = await register(h, 'carol.k_1-x', 'correct horse battery');
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ userId: expect.stringMatching(/^[0-9a-f-]{36}$/), username: 'carol.k_1-x' });
  });

  it('answers 409 when the username is taken', async () => {
    await register(h, 'dave', 'dave-password-123');
    const res = await register(h, 'dave', 'another-password-456');
    expect(res.status).toBe(409);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.code).toBe('USERNAME_TAKEN');
  });

  it.each([
    ['too short username', { username: 'ab', password: 'long-enough-pw' }, ['username']],
    ['upper-case username', { username: 'Alice', password: 'long-enough-pw' }, ['username']],
    ['username of 65 characters', { username: 'a'.repeat(65), password: 'long-enough-pw' }, ['username']],
    ['password of 11 characters', { username: 'erin', password: 'elevenchars' }, ['password']],
    ['password of 129 characters', { username: 'erin', password: 'p'.repeat(129) }, ['password']],
    ['numbers instead of strings', { username: 42, password: 123456789012 }, ['username', 'password']],
    ['missing fields', {}, ['username', 'password']],
    ['an unknown field', { username: 'erin', password: 'long-enough-pw', role: 'admin' }, ['role']],
    ['an array', [], ['']],
    ['null', null, ['']],
  ])('answers 400 problem+json with field errors for %s', async (_name, body, fields) => {
    const res = await postJson(`${h.url}/auth/register`, body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.body.code).toBe('VALIDATION_ERROR');
    expect((res.body.errors as { field: string }[]).map((e) => e.field).sort()).toEqual([...fields].sort());
  });

  it('accepts a password of exactly 12 and of exactly 128 characters (emoji count as one)', async () => {
    expect((await register(h, 'frank', 'twelve-chars')).status).toBe(201);
    expect((await register(h, 'grace', '😀'.repeat(128))).status).toBe(201);
  });

  it('answers 400 for malformed JSON and 413 for a body over the limit, creating nothing', async () => {
    const malformed = await postJson(`${h.url}/auth/register`, '{"username": "heidi",');
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('MALFORMED_BODY');
    const big = await postJson(`${h.url}/auth/register`, { username: 'heidi', password: 'x'.repeat(4000) });
    expect(big.status).toBe(413);
    const { rowCount } = await h.service.pool.query("SELECT 1 FROM identity.users WHERE username = 'heidi'");
    expect(rowCount).toBe(0);
  });
});
