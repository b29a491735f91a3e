// The order truth of the chaos run's webhook check, against a real broker:
// readStreamOrder gives each account's event ids in stream order, first copies
// only (a re-sent batch repeats events; it must not move them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokers, createTopics, TestProducer, uniqueName } from '@wallet/testkit';
import { readStreamOrder } from '../../scripts/chaos/webhook-facts.mjs';

describe('readStreamOrder', () => {
  const topic = uniqueName('chaos-webhook-order');
  let producer: TestProducer;
  beforeAll(async () => {
    await createTopics([{ name: topic, partitions: 3 }]);
    producer = new TestProducer();
  });
  afterAll(async () => {
    await producer?.close();
  });

  it("gives each account's events in stream order, first copies only, whatever the partition", async () => {
    const event = (eventId: string, accountId: string) => ({ eventId, accountId, eventType: 'transfer_out' });
    await producer.sendEvents(topic, [event('a-1', 'A'), event('b-1', 'B'), event('a-2', 'A'), event('c-1', 'C')]);
    // A re-sent batch (relay leader died after publishing, before deleting): duplicates, then new events.
    await producer.sendEvents(topic, [event('a-1', 'A'), event('a-2', 'A'), event('b-1', 'B'), event('a-3', 'A'), event('b-2', 'B')]);
    const order = await readStreamOrder({ brokers: brokers(), topic, timeoutMs: 30_000 });
    expect(Object.fromEntries(order)).toEqual({ A: ['a-1', 'a-2', 'a-3'], B: ['b-1', 'b-2'], C: ['c-1'] });
  });

  it('reads an empty topic as no events', async () => {
    const empty = uniqueName('chaos-webhook-order-empty');
    await createTopics([{ name: empty, partitions: 2 }]);
    expect((await readStreamOrder({ brokers: brokers(), topic: empty, timeoutMs: 10_000 })).size).toBe(0);
  });
});
