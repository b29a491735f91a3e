// Real-broker helpers shared by the suites: unique topics, a producer of raw
// records, a reader that takes records back from a topic, and the JSON Schema
// check every event read from Kafka must pass.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Admin, Consumer, Producer, stringDeserializer, stringSerializer } from '@platformatic/kafka';
import { contractPaths } from '@wallet/contracts';
import { waitFor } from './index.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

export function brokers(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value) throw new Error('KAFKA_BROKERS is not set: run tests through `npm test` (it starts a Kafka broker)');
  return value.split(',');
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export async function createTopics(
  topics: { name: string; partitions: number }[],
  bootstrapBrokers: string[] = brokers(),
): Promise<void> {
  const admin = new Admin({ clientId: 'testkit-admin', bootstrapBrokers });
  try {
    for (const topic of topics) {
      await admin.createTopics({ topics: [topic.name], partitions: topic.partitions, replicas: 1 });
    }
    // Metadata propagates asynchronously even on one broker: wait until every partition has a leader.
    await waitFor(
      async () => {
        const metadata = await admin.metadata({ topics: topics.map((t) => t.name), forceUpdate: true });
        return topics.every((t) => metadata.topics.get(t.name)?.partitions.every((p) => p.leader >= 0));
      },
      { what: 'topic leaders', timeoutMs: 20_000 },
    );
  } finally {
    await admin.close();
  }
}

export interface RawRecord {
  key?: string;
  value: Buffer | string;
  headers?: Record<string, string>;
}

export class TestProducer {
  private readonly producer = new Producer({
    clientId: 'testkit-producer',
    bootstrapBrokers: brokers(),
    idempotent: true,
    serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
  });

  async send(topic: string, records: RawRecord[]): Promise<void> {
    await this.producer.send({
      messages: records.map((r) => ({
        topic,
        ...(r.key === undefined ? {} : { key: r.key }),
        value: typeof r.value === 'string' ? Buffer.from(r.value) : r.value,
        headers: r.headers ?? {},
      })),
    });
  }

  /** Events as the bank-service outbox publishes them: key = accountId, JSON body, eventType header. */
  async sendEvents(topic: string, events: { accountId: string; eventType: string }[]): Promise<void> {
    await this.send(
      topic,
      events.map((e) => ({ key: e.accountId, value: JSON.stringify(e), headers: { eventType: e.eventType } })),
    );
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}

export interface ReadRecord {
  key: string | undefined;
  value: Buffer;
  headers: Map<string, string>;
  partition: number;
  offset: bigint;
}

/** Reads every record of a topic from the beginning until `count` arrived (or times out). */
export async function readTopic(
  topic: string,
  count: number,
  timeoutMs = 20_000,
  bootstrapBrokers: string[] = brokers(),
): Promise<ReadRecord[]> {
  const consumer = new Consumer({
    clientId: 'testkit-reader',
    groupId: uniqueName('reader'),
    bootstrapBrokers,
    autocommit: false,
    maxWaitTime: 200,
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
  });
  const records: ReadRecord[] = [];
  try {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    const done = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${records.length}/${count} records of ${topic} within ${timeoutMs} ms`)), timeoutMs);
      stream.on('data', (m) => {
        records.push({ key: m.key, value: m.value, headers: m.headers, partition: m.partition, offset: m.offset });
        if (records.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      });
      stream.on('error', reject);
    });
    await done;
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return records;
}

const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => Ajv2020;

/** The contract check every test applies to events it reads from (or puts on) Kafka. */
export function createSchemaChecker(): (event: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const load = (path: string) => ajv.compile(JSON.parse(readFileSync(path, 'utf8')) as object);
  const transfer = load(contractPaths.transferEventSchema);
  const topUp = load(contractPaths.topUpEventSchema);
  const hold = load(contractPaths.holdEventSchema);
  const reversal = load(contractPaths.reversalEventSchema);
  const refund = load(contractPaths.refundEventSchema);
  return (event) => {
    const type = String((event as { eventType?: unknown })?.eventType);
    const validate =
      type === 'topup' ? topUp
      : type.startsWith('hold_') ? hold
      : type.startsWith('reversal_') ? reversal
      : type.startsWith('refund') ? refund
      : transfer;
    if (validate(event)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`);
  };
}

/** Bound of readAllRecords: a test topic holding more than this is not a test topic. */
const READ_ALL_RECORDS_MAX = 200_000;

/**
 * Reads a topic from the beginning up to its end as of the call (each
 * partition's high watermark then), whatever it holds: a scan, not a wait for
 * expected records. Assumes no transactional producer (offsets without gaps).
 */
export async function readAllRecords(topic: string, bootstrapBrokers: string[] = brokers(), timeoutMs = 30_000): Promise<ReadRecord[]> {
  const consumer = new Consumer({
    clientId: 'testkit-scanner',
    groupId: uniqueName('scanner'),
    bootstrapBrokers,
    autocommit: false,
    maxWaitTime: 200,
    deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
  });
  const records: ReadRecord[] = [];
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    const total = ends.reduce((sum, end) => sum + end, 0n);
    if (total === 0n) return records;
    if (total > BigInt(READ_ALL_RECORDS_MAX)) throw new Error(`${topic} holds ${total} records, more than ${READ_ALL_RECORDS_MAX}`);
    const nextOffset = ends.map(() => 0n);
    const reachedEnd = () => ends.every((end, partition) => nextOffset[partition]! >= end);
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${records.length}/${total} records of ${topic} within ${timeoutMs} ms`)), timeoutMs);
      stream.on('data', (m) => {
        records.push({ key: m.key, value: m.value, headers: m.headers, partition: m.partition, offset: m.offset });
        if (m.offset + 1n > (nextOffset[m.partition] ?? 0n)) nextOffset[m.partition] = m.offset + 1n;
        if (reachedEnd()) {
          clearTimeout(timer);
          resolve();
        }
      });
      stream.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return records;
}

/** Every topic on the brokers except Kafka's internal ones (names starting with "__"). */
export async function listTopics(bootstrapBrokers: string[] = brokers()): Promise<string[]> {
  const admin = new Admin({ clientId: 'testkit-admin', bootstrapBrokers });
  try {
    return (await admin.listTopics()).filter((name) => !name.startsWith('__'));
  } finally {
    await admin.close();
  }
}
