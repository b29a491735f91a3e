// Contract C1 (issue 14): the hooks a history cache builds on. onStored names
// the accounts of every stored batch once their rows are readable;
// onAssignmentChanged follows the partitions this member owns, owning nothing
// while a rebalance is in progress. partitionForKey agrees with the real topic.
import { randomUUID } from 'node:crypto';
import { partitionForKey } from '@wallet/platform';
import { createTopics, readTopic, TestProducer, uniqueName, waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TopicPartition } from '../../src/consumer/operations-consumer.js';
import { at, topUpEvent } from '../support/events.js';
import { startConsumer, type TestConsumer } from '../support/consumer.js';
import { removeChdbPath, tempChdbPath } from '../support/service.js';

const PARTITIONS = 3;
const topic = uniqueName('hooks');
const chdbPath = tempChdbPath('hooks');
const env = (groupId: string) => ({
  ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
  ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
  ANALYTICS_KAFKA_GROUP_ID: groupId,
  ANALYTICS_CHDB_PATH: chdbPath,
});
let producer: TestProducer;
const running: TestConsumer[] = [];

beforeAll(async () => {
  await createTopics([
    { name: topic, partitions: PARTITIONS },
    { name: `${topic}.dlq`, partitions: 1 },
  ]);
  producer = new TestProducer();
});

afterAll(async () => {
  await producer?.close();
  for (const item of running.reverse()) await item.stop();
  removeChdbPath(chdbPath);
});

const sorted = (assigned: ReadonlyArray<TopicPartition>) => assigned.map((a) => a.partition).sort((a, b) => a - b);

describe('consumer hooks', { timeout: 180_000 }, () => {
  it('calls onStored with the accounts of a stored batch after their rows are readable, and the bank key lands on partitionForKey', async () => {
    const accounts = Array.from({ length: 12 }, () => randomUUID());
    const events = accounts.map((accountId, i) => topUpEvent({ accountId, amount: '1.00', occurredAt: at('2025-06-01T00:00:00Z', i) }));
    const notified = new Set<string>();
    const readableAtHook: Promise<number>[] = [];
    const started = await startConsumer(env(uniqueName('hooks')), {
      onStored: (accountIds) => {
        for (const id of accountIds) {
          notified.add(id);
          // Started inside the hook: the rows must already be in the store.
          readableAtHook.push(started.store.countRawRows(id));
        }
      },
    });
    running.push(started);
    await producer.sendEvents(topic, events);

    await waitFor(async () => accounts.every((id) => notified.has(id)), { what: 'onStored for every account', timeoutMs: 60_000 });
    expect([...notified].sort()).toEqual([...accounts].sort());
    for (const count of await Promise.all(readableAtHook)) expect(count).toBeGreaterThanOrEqual(1);

    const records = await readTopic(topic, events.length);
    for (const record of records) expect(record.partition, record.key).toBe(partitionForKey(record.key ?? '', PARTITIONS));
  });

  it('calls onAssignmentChanged with the whole assignment on every join, nothing while a rebalance is in progress, and disjoint shares between members', async () => {
    const groupId = uniqueName('hooks-group');
    const seenA: number[][] = [];
    const seenB: number[][] = [];
    const a = await startConsumer(env(groupId), { onAssignmentChanged: (assigned) => seenA.push(sorted(assigned)) });
    running.push(a);
    await waitFor(async () => JSON.stringify(seenA.at(-1)) === '[0,1,2]', { what: 'member A owns every partition', timeoutMs: 60_000 });

    const b = await startConsumer(env(groupId), { onAssignmentChanged: (assigned) => seenB.push(sorted(assigned)) }, { store: a.store });
    running.push(b);
    const shares = await waitFor(
      async () => {
        const ownA = seenA.at(-1) ?? [];
        const ownB = seenB.at(-1) ?? [];
        return ownA.length > 0 && ownB.length > 0 && ownA.length + ownB.length === PARTITIONS ? { ownA, ownB } : undefined;
      },
      { what: 'the partitions shared between A and B', timeoutMs: 90_000 },
    );
    expect([...shares.ownA, ...shares.ownB].sort()).toEqual([0, 1, 2]);
    const afterFirstJoin = seenA.slice(seenA.findIndex((s) => s.length === PARTITIONS) + 1);
    // A gave its partitions up (owned nothing) before it was handed its share.
    expect(afterFirstJoin[0]).toEqual([]);

    await b.stop();
    running.splice(running.indexOf(b), 1);
    expect(seenB.at(-1)).toEqual([]);
    await waitFor(async () => JSON.stringify(seenA.at(-1)) === '[0,1,2]', { what: 'A owns every partition again', timeoutMs: 90_000 });
  });
});
