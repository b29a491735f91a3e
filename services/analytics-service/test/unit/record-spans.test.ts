// The record span and its INSERT child share one clock: a wall clock (Date.now)
// a few ms off performance.timeOrigin + now() must not make a record span end
// before the insert that stored its row (the tracing e2e saw exactly that).
import { getTracer, InMemorySpanExporter, ROOT_CONTEXT, startTracing, type TracingHandle } from '@wallet/platform/tracing';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BatchSpans, spanClockMs, startRecordSpan, type ConsumedRecord } from '../../src/consumer/record-spans.js';

const exporter = new InMemorySpanExporter();
let tracing: TracingHandle;
beforeAll(() => {
  tracing = startTracing('analytics-service-unit', {}, { exporter, simpleProcessor: true });
});
afterAll(async () => {
  await tracing.shutdown();
});
afterEach(() => {
  vi.restoreAllMocks();
  exporter.reset();
});

const TARGET = { namespace: 'wallet_analytics', collection: 'wallet_analytics.operations' };
const nanos = ([seconds, nanoseconds]: [number, number]) => BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds);

describe('record spans', () => {
  it.each([-5, 0, 5])('a record span encloses its INSERT child when the wall clock is %i ms off the monotonic one', (offsetMs) => {
    vi.spyOn(Date, 'now').mockImplementation(() => Math.floor(performance.timeOrigin + performance.now() + offsetMs));
    const record: ConsumedRecord = { topic: 'wallet.operations', partition: 0, offset: 7n, headers: new Map() };
    const spans = new BatchSpans([{ message: record, span: startRecordSpan(record, 'analytics') }], TARGET);
    const flush = getTracer().startSpan('analytics.flush', {}, ROOT_CONTEXT);
    const insert = { startTimeMs: spanClockMs(), endTimeMs: spanClockMs(), rows: 1 };
    spans.stored({ inserted: [{ message: record, insert }], duplicates: [], dead: [], accountIds: new Set() }, flush.spanContext());
    flush.end();
    const finished = exporter.getFinishedSpans();
    const parent = finished.find((s) => s.name === 'process wallet.operations')!;
    const child = finished.find((s) => s.name === 'INSERT wallet_analytics.operations')!;
    expect(child.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(nanos(parent.startTime)).toBeLessThanOrEqual(nanos(child.startTime));
    expect(nanos(parent.endTime)).toBeGreaterThanOrEqual(nanos(child.endTime));
  });
});
