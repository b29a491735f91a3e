import { describe, expect, it } from 'vitest';
import { advisoryLockKey, depositLockKey, transferLockKey, transferRequestHash } from '../../src/domain/hashing.js';

const base = {
  senderAccountId: '123e4567-e89b-12d3-a456-426614174000',
  recipientAccountId: '987e6543-e21b-34d3-c456-426614174999',
  amountMinor: 1000n,
  currency: 'USD',
  description: '',
};

describe('request hashing', () => {
  it('is deterministic for the same request', () => {
    expect(transferRequestHash(base)).toBe(transferRequestHash({ ...base }));
  });

  it.each([
    ['recipient', { recipientAccountId: '00000000-0000-0000-0000-000000000002' }],
    ['amount', { amountMinor: 1001n }],
    ['currency', { currency: 'EUR' }],
    ['description', { description: 'x' }],
  ])('changes when the %s changes', (_name, change) => {
    expect(transferRequestHash({ ...base, ...change })).not.toBe(transferRequestHash(base));
  });

  it('cannot be confused by moving text between fields', () => {
    const a = transferRequestHash({ ...base, currency: 'US', description: 'D' });
    const b = transferRequestHash({ ...base, currency: 'USD', description: '' });
    expect(a).not.toBe(b);
  });
});

describe('advisory lock keys', () => {
  it('are signed 64-bit integers, stable per (sender, key)', () => {
    const key = transferLockKey(base.senderAccountId, 'k1');
    expect(key).toBe(transferLockKey(base.senderAccountId, 'k1'));
    expect(key).toBe(BigInt.asIntN(64, key));
    expect(transferLockKey(base.senderAccountId, 'k2')).not.toBe(key);
    expect(transferLockKey(base.recipientAccountId, 'k1')).not.toBe(key);
  });

  it('separate transfers from deposits with the same text', () => {
    expect(depositLockKey('k1')).not.toBe(advisoryLockKey('bank.transfer', 'k1'));
  });
});
