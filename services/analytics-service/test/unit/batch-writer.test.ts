// BatchWriter with an in-memory sink (pure unit test): what it reports for
// each record (the consumer ends the record spans from this) and the
// freshness metrics it records.
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

function writer(sink: OperationsSink) {
  const registry = new Registry();
  const metrics = createAnalyticsMetrics(registry);
  const batchWriter = new BatchWriter({
    sink,
    validator: createEventValidator(),
    metrics,
    logger: createLogger('batch-writer-test', 'silent'),
    storeAttemptsMax: 1,
    retryDelayMsMax: 50,
    pause: async () => {},
    stopping: () => false,
  });
  return { batchWriter, metrics };
}

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
