import { describe, expect, it } from 'vitest';
import { decryptSecret, encryptSecret, generateSecret, parseSecretKey } from '../../src/domain/secret-box.js';
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
});

describe('secrets at rest', () => {
  const key = parseSecretKey(Buffer.alloc(32, 7).toString('base64'));

  it('round-trips and never stores the secret in clear', () => {
    const secret = generateSecret();
    const sealed = encryptSecret(key, 'endpoint-1', secret);
    expect(sealed.includes(Buffer.from(secret))).toBe(false);
    expect(decryptSecret(key, 'endpoint-1', sealed)).toBe(secret);
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
