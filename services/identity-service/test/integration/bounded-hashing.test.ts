import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, startHarness, type Harness } from '../support/harness.js';

describe('argon2 hashing is bounded', () => {
  let h: Harness;
  beforeAll(async () => {
    // One slot, no queue, and a hash heavy enough that concurrent requests overlap.
    h = await startHarness({
      IDENTITY_PASSWORD_HASH_CONCURRENCY_MAX: '1',
      IDENTITY_PASSWORD_HASH_QUEUE_MAX: '0',
      IDENTITY_ARGON2_MEMORY_KIB: '65536',
      IDENTITY_ARGON2_ITERATIONS: '4',
    });
  });
  afterAll(async () => h?.stop());

  it('answers 503 problem+json with Retry-After when the hashing queue is full, and creates only the accepted users', async () => {
    const results = await Promise.all([0, 1, 2, 3].map((i) => register(h, `burst-${i}`, 'burst-password-123')));
    const statuses = results.map((r) => r.status);
    expect(statuses).toContain(201);
    expect(statuses).toContain(503);
    expect(statuses.every((s) => s === 201 || s === 503)).toBe(true);
    const refused = results.find((r) => r.status === 503)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.body.code).toBe('OVERLOADED');
    const { rows } = await h.service.pool.query<{ n: string }>("SELECT count(*) AS n FROM identity.users WHERE username LIKE 'burst-%'");
    expect(Number(rows[0]!.n)).toBe(statuses.filter((s) => s === 201).length);
  });
});
