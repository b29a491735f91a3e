// BatchWriter with an in-memory sink (pure unit test): what it reports for
// each record (the consumer ends the record spans from this) and the
// freshness metrics it records.
import { randomUUID } from 'node:crypto';
import { createLogger } from '@wallet/platform';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BatchWriter, type OperationsSink } from '../../src/consumer/batch-writer.js';
import { createEventValidator } from '../../src/consumer/validator.js';
import type { OperationRow } from '../../src/domain/operation.js';
import { createAnalyticsMetrics } from '../../src/metrics.js';
import { topUpEvent } from '../support/events.js';

const accountId = '123e4567-e89b-12d3-a456-426614174000';

function memorySink(stored: Set<string> = new Set()): OperationsSink & { inserts: OperationRow[][] } {
  const inserts: OperationRow[][] = [];
  return {
    inserts,
    existingEventIds: async (rows) => new Set(rows.map((r) => r.eventId).filter((id) => stored.has(id))),
    insert: async (rows) => {
      if (rows.length > 0) inserts.push([...rows]);
      for (const row of rows) stored.add(row.eventId);
    },
  };
}

function writer(sink: OperationsSink, extra: { storeIntervalMsMin?: number; storeAttemptsMax?: number; pause?: (ms: number) => Promise<void> } = {}) {
  const registry = new Registry();
  const metrics = createAnalyticsMetrics(registry);
  const batchWriter = new BatchWriter({
    sink,
    validator: createEventValidator(),
    metrics,
    logger: createLogger('batch-writer-test', 'silent'),
    storeAttemptsMax: extra.storeAttemptsMax ?? 1,
    retryDelayMsMax: 50,
    ...(extra.storeIntervalMsMin === undefined ? {} : { storeIntervalMsMin: extra.storeIntervalMsMin }),
    pause: extra.pause ?? (async () => {}),
    stopping: () => false,
  });
  return { batchWriter, metrics };
}

/** A memory sink whose next insert waits until release() (to make batches arrive while one is in flight). */
function gatedSink() {
  const sink = memorySink();
  let release: () => void = () => {};
  let gate: Promise<void> | undefined = new Promise((resolve) => (release = resolve));
  const lookups: number[] = [];
  return {
    sink: {
      ...sink,
      existingEventIds: async (rows: readonly OperationRow[]) => {
        lookups.push(rows.length);
        return sink.existingEventIds(rows);
      },
      insert: async (rows: readonly OperationRow[]) => {
        const waitFor = gate;
        gate = undefined;
        await waitFor;
        await sink.insert(rows);
      },
    } satisfies OperationsSink,
    inserts: sink.inserts,
    lookups,
    release: () => release(),
  };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 1_000 && !check(); i += 1) await new Promise((resolve) => setImmediate(resolve));
  expect(check()).toBe(true);
};

const record = (value: unknown, name: string) => ({ name, value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)) });

describe('BatchWriter.write', () => {
  it('says what became of each record: inserted (with the insert that stored it), duplicate (already stored or repeated in the batch), dead (with the reason)', async () => {
    const fresh = topUpEvent({ accountId, amount: '1.00', occurredAt: '2025-01-01T00:00:00Z' });
    const old = topUpEvent({ accountId, amount: '2.00', occurredAt: '2025-01-01T00:00:01Z' });
    const sink = memorySink(new Set([old.eventId]));
    const { batchWriter } = writer(sink);
    const batch = [record(fresh, 'fresh'), record(fresh, 'fresh again'), record(old, 'old'), record('{"not json', 'broken')];

    const result = await batchWriter.write(batch);

    expect(result.inserted.map((r) => r.message.name)).toEqual(['fresh']);
    const [{ insert }] = result.inserted as [(typeof result.inserted)[number]];
    expect(insert.rows).toBe(1);
    expect(insert.endTimeMs).toBeGreaterThanOrEqual(insert.startTimeMs);
    expect(result.duplicates.map((m) => m.name)).toEqual(['fresh again', 'old']);
    expect(result.dead.map((d) => [d.message.name, d.reason])).toEqual([['broken', 'unparsable']]);
    expect(sink.inserts.map((rows) => rows.map((r) => r.eventId))).toEqual([[fresh.eventId]]);
  });

  it('observes each stored row\'s delay from occurredAt and sets the last insert time; duplicates observe nothing', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const event = topUpEvent({ accountId, amount: '1.00', occurredAt: hourAgo });
    const { batchWriter, metrics } = writer(memorySink());
    const beforeS = Date.now() / 1000;

    await batchWriter.write([record(event, 'first'), record(event, 'repeat')]);
    await batchWriter.write([record(event, 'redelivered')]);

    const delay = (await metrics.eventDelaySeconds.get()).values;
    const count = delay.find((v) => v.metricName === 'analytics_event_delay_seconds_count')?.value;
    const sum = delay.find((v) => v.metricName === 'analytics_event_delay_seconds_sum')?.value ?? 0;
    expect(count).toBe(1);
    expect(sum).toBeGreaterThanOrEqual(3_600);
    expect(sum).toBeLessThan(3_600 + 600);
    const lastInsertS = (await metrics.lastInsertTimestamp.get()).values[0]?.value ?? 0;
    expect(lastInsertS).toBeGreaterThanOrEqual(beforeS - 1);
    expect(lastInsertS).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it('counts an event from a clock ahead of ours as no delay', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const { batchWriter, metrics } = writer(memorySink());
    await batchWriter.write([record(topUpEvent({ accountId, amount: '1.00', occurredAt: future }), 'ahead')]);
    const delay = (await metrics.eventDelaySeconds.get()).values;
    expect(delay.find((v) => v.metricName === 'analytics_event_delay_seconds_sum')?.value).toBe(0);
  });
});

describe('BatchWriter grouped store steps (issue 14)', () => {
  const event = (name: string) => record(topUpEvent({ accountId: randomUUID(), amount: '1.00', occurredAt: '2025-01-01T00:00:00Z' }), name);

  it('stores the batches that arrive while a store step runs in one lookup and one insert, each told what it stored', async () => {
    const gated = gatedSink();
    const { batchWriter } = writer(gated.sink);
    const first = batchWriter.write([event('a1')]);
    await until(() => gated.lookups.length === 1);
    const second = batchWriter.write([event('b1'), event('b2')]);
    const third = batchWriter.write([event('c1')]);
    gated.release();
    const results = await Promise.all([first, second, third]);

    expect(gated.inserts.map((rows) => rows.length)).toEqual([1, 3]);
    expect(gated.lookups).toEqual([1, 3]);
    expect(results.map((r) => r.inserted.map((i) => i.message.name))).toEqual([['a1'], ['b1', 'b2'], ['c1']]);
    expect(results[1]!.inserted[0]!.insert.rows).toBe(3);
  });

  it('when a grouped insert fails, stores each batch on its own: a row the store refuses for good is parked from its own batch only', async () => {
    const bad = event('bad');
    const badId = JSON.parse(bad.value.toString()).eventId as string;
    const gated = gatedSink();
    const refusing: OperationsSink = {
      existingEventIds: gated.sink.existingEventIds,
      insert: async (rows) => {
        if (rows.some((r) => r.eventId === badId)) throw Object.assign(new Error('Cannot parse input'), { code: '27' });
        await gated.sink.insert(rows);
      },
    };
    const { batchWriter } = writer(refusing);
    const first = batchWriter.write([event('a1')]);
    await until(() => gated.lookups.length === 1);
    const good = batchWriter.write([event('g1'), event('g2')]);
    const mixed = batchWriter.write([event('m1'), bad]);
    gated.release();
    const [, goodResult, mixedResult] = await Promise.all([first, good, mixed]);

    expect(goodResult.inserted.map((i) => i.message.name)).toEqual(['g1', 'g2']);
    expect(goodResult.dead).toEqual([]);
    expect(mixedResult.inserted.map((i) => i.message.name)).toEqual(['m1']);
    expect(mixedResult.dead.map((d) => [d.message.name, d.reason])).toEqual([['bad', 'store_rejected']]);
    expect(gated.inserts.flat().map((r) => r.eventId)).not.toContain(badId);
  });

  it('starts a grouped store step at most every storeIntervalMsMin: a batch right after one waits for the rest of the interval', async () => {
    const pauses: number[] = [];
    const { batchWriter } = writer(memorySink(), { storeIntervalMsMin: 60_000, pause: async (ms) => void pauses.push(ms) });
    await batchWriter.write([event('first')]);
    expect(pauses).toEqual([]);
    await batchWriter.write([event('second')]);
    expect(pauses).toHaveLength(1);
    expect(pauses[0]).toBeGreaterThan(50_000);
    expect(pauses[0]).toBeLessThanOrEqual(60_000);
  });
});
