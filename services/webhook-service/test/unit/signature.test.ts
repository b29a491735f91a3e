import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, generateSecret, parseSecretKey } from '../../src/domain/secret-box.js';
import { GRACE_PERIOD_SECONDS_MAX, gracePeriodMs, rotationRequestHash, signingVersions } from '../../src/domain/secret-versions.js';
import { sign, signedHeaders, verify } from '../../src/domain/signature.js';

describe('Standard Webhooks signature', () => {
  it('matches the specification’s example (secret, msg id, timestamp, body)', () => {
    expect(sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });

  it('verifies its own headers and refuses a changed body, another secret or an old timestamp', () => {
    const secret = generateSecret();
    const headers = signedHeaders(secret, 'd-1', 1_000_000, '{"a":1}');
    expect(verify(secret, headers, '{"a":1}', 1_000_010)).toBe(true);
    expect(verify(secret, headers, '{"a":2}', 1_000_010)).toBe(false);
    expect(verify(generateSecret(), headers, '{"a":1}', 1_000_010)).toBe(false);
    expect(verify(secret, headers, '{"a":1}', 1_000_000 + 301)).toBe(false);
  });

  it('during a rotation carries both signatures, new first, and each secret verifies on its own', () => {
    const [fresh, old] = [generateSecret(), generateSecret()];
    const headers = signedHeaders([fresh, old], 'd-2', 1_000_000, '{"a":1}');
    const [first, second, ...rest] = headers['webhook-signature'].split(' ');
    expect(rest).toEqual([]);
    expect(first).toBe(sign(fresh, 'd-2', 1_000_000, '{"a":1}'));
    expect(second).toBe(sign(old, 'd-2', 1_000_000, '{"a":1}'));
    expect(verify(fresh, headers, '{"a":1}', 1_000_000)).toBe(true);
    expect(verify(old, headers, '{"a":1}', 1_000_000)).toBe(true);
    expect(verify(generateSecret(), headers, '{"a":1}', 1_000_000)).toBe(false);
    expect(verify(old, headers, '{"a":2}', 1_000_000)).toBe(false);
  });

  it('refuses to sign with no secret at all (never an unsigned delivery)', () => {
    expect(() => signedHeaders([], 'd-3', 1_000_000, '{}')).toThrow(/no signing secret/);
  });
});

describe('secret versions (rotation)', () => {
  const now = new Date('2026-12-02T12:00:00Z');
  const v = (version: number, expiresAt: Date | null) => ({ version, expiresAt });

  it('the current version and the replaced one in its grace period sign, newest first', () => {
    const graceEnd = new Date(now.getTime() + 3_600_000);
    expect(signingVersions([v(1, graceEnd), v(2, null)], now).map((s) => s.version)).toEqual([2, 1]);
  });

  it('once the grace period ends only the new secret signs (the end instant itself is over)', () => {
    expect(signingVersions([v(1, now), v(2, null)], now).map((s) => s.version)).toEqual([2]);
    expect(signingVersions([v(1, new Date(now.getTime() - 1)), v(2, null)], now).map((s) => s.version)).toEqual([2]);
    expect(signingVersions([v(1, new Date(now.getTime() + 1)), v(2, null)], now).map((s) => s.version)).toEqual([2, 1]);
  });

  it('never more than two signatures, whatever the storage holds', () => {
    const later = new Date(now.getTime() + 60_000);
    expect(signingVersions([v(1, later), v(2, later), v(3, null)], now).map((s) => s.version)).toEqual([3, 2]);
  });

  it('grace period: the request\'s seconds (0-7 days), else the configured default; out of range is a field violation', () => {
    expect(gracePeriodMs(undefined, 86_400_000)).toEqual({ ok: true, ms: 86_400_000 });
    expect(gracePeriodMs(0, 86_400_000)).toEqual({ ok: true, ms: 0 });
    expect(gracePeriodMs(GRACE_PERIOD_SECONDS_MAX, 1)).toEqual({ ok: true, ms: GRACE_PERIOD_SECONDS_MAX * 1000 });
    expect(gracePeriodMs(-1, 1)).toMatchObject({ ok: false, violations: [{ field: 'grace_period_seconds' }] });
    expect(gracePeriodMs(GRACE_PERIOD_SECONDS_MAX + 1, 1)).toMatchObject({ ok: false });
  });

  it('the rotation request hash tells an omitted grace period from an explicit one', () => {
    expect(rotationRequestHash(undefined)).toBe(rotationRequestHash(undefined));
    expect(rotationRequestHash(undefined)).not.toBe(rotationRequestHash(86_400));
    expect(rotationRequestHash(0)).not.toBe(rotationRequestHash(60));
  });
});

describe('secrets at rest', () => {
  const key = parseSecretKey(Buffer.alloc(32, 7).toString('base64'));

  it('round-trips and never stores the secret in clear', () => {
    const secret = generateSecret();
    const sealed = encryptSecret(key, 'endpoint-1', secret);
    expect(sealed.includes(Buffer.from(secret))).toBe(false);
    expect(decryptSecret(key, 'endpoint-1', sealed)).toBe(secret);
  });

  it('a rotated version opens only as its own version (a ciphertext moved between versions is refused)', () => {
    const secret = generateSecret();
    const sealed = encryptSecret(key, 'endpoint-1', secret, 2);
    expect(decryptSecret(key, 'endpoint-1', sealed, 2)).toBe(secret);
    expect(() => decryptSecret(key, 'endpoint-1', sealed, 3)).toThrow();
    expect(() => decryptSecret(key, 'endpoint-1', sealed)).toThrow();
  });

  it('refuses a ciphertext moved to another endpoint or opened with another key', () => {
    const sealed = encryptSecret(key, 'endpoint-1', generateSecret());
    expect(() => decryptSecret(key, 'endpoint-2', sealed)).toThrow();
    expect(() => decryptSecret(parseSecretKey(Buffer.alloc(32, 8).toString('base64')), 'endpoint-1', sealed)).toThrow();
  });

  it('refuses a key that is not 32 bytes of base64, without echoing it', () => {
    expect(() => parseSecretKey('c2hvcnQ=')).toThrow(/32 bytes/);
    expect(() => parseSecretKey('not base64!')).toThrow(/^must be base64/);
  });
});
