// partitionForKey must agree with the producer the bank uses, or an analytics
// replica would think it owns (and cache) accounts another replica writes.
import { murmur2 } from '@platformatic/kafka';
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kafkaMurmur2, partitionForKey } from '../../src/kafka-partition.js';

describe('kafkaMurmur2', () => {
  it("matches Kafka's own test vectors (org.apache.kafka.common.utils.UtilsTest#testMurmur2)", () => {
    const vectors: [string, number][] = [
      ['21', -973932308],
      ['foobar', -790332482],
      ['a-little-bit-long-string', -985981536],
      ['a-little-bit-longer-string', -1486304829],
      ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
      ['abc', 479470107],
    ];
    for (const [key, hash] of vectors) expect(kafkaMurmur2(Buffer.from(key)), key).toBe(hash);
  });

  it('equals the Kafka client library murmur2 for account ids and keys of every length remainder', () => {
    const keys = ['', 'a', 'ab', 'abc', 'abcd', 'héllo wörld', ...Array.from({ length: 500 }, () => randomUUID())];
    for (const key of keys) expect(kafkaMurmur2(Buffer.from(key)), key).toBe(murmur2(Buffer.from(key)));
  });
});

describe('partitionForKey', () => {
  it("is the producer's default partition: unsigned murmur2 of the UTF-8 key modulo the partition count", () => {
    for (const partitions of [1, 3, 12]) {
      for (let i = 0; i < 200; i += 1) {
        const key = randomUUID();
        expect(partitionForKey(key, partitions)).toBe((murmur2(Buffer.from(key)) >>> 0) % partitions);
      }
    }
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => partitionForKey('k', 0)).toThrow(RangeError);
    expect(() => partitionForKey('k', 1.5)).toThrow(RangeError);
  });
});
