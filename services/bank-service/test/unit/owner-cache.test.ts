import { describe, expect, it } from 'vitest';
import { BoundedLru } from '../../src/app/owners.js';

describe('the owner cache (bounded LRU)', () => {
  it('never holds more than its size and drops the least recently used first', () => {
    const lru = new BoundedLru<string, string | null>(2);
    lru.set('a', 'alice');
    lru.set('b', null);
    expect(lru.get('a')).toBe('alice'); // a is now the most recent
    lru.set('c', 'carol');
    expect(lru.size).toBe(2);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBe('alice');
    expect(lru.get('c')).toBe('carol');
  });

  it('keeps a null owner (an account without one) apart from a miss', () => {
    const lru = new BoundedLru<string, string | null>(10);
    lru.set('x', null);
    expect(lru.get('x')).toBeNull();
    expect(lru.get('y')).toBeUndefined();
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => new BoundedLru(0)).toThrow(RangeError);
    expect(() => new BoundedLru(1.5)).toThrow(RangeError);
  });
});
