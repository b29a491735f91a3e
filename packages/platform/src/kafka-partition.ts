// Which partition a keyed Kafka record goes to, computed exactly as the
// producer we use (@platformatic/kafka's default partitioner) does it:
// murmur2 of the key's UTF-8 bytes (Kafka's Java murmur2), taken as an
// unsigned 32-bit number, modulo the topic's partition count. The bank keys
// every outbox event by account id, so an analytics replica can tell which
// accounts live on the partitions it consumes (it is then their only writer).
// No dependency on the Kafka client: kept equal to it by a test.

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils#murmur2) as a signed 32-bit integer. */
export function kafkaMurmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[whole + 2]! << 16;
    if (rest >= 2) h ^= data[whole + 1]! << 8;
    h ^= data[whole]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition (0-based) a record with this string key lands on in a topic of `partitions` partitions. */
export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return (kafkaMurmur2(Buffer.from(key, 'utf8')) >>> 0) % partitions;
}
