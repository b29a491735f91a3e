// The spans of consuming: one CONSUMER span `process <topic>` per record,
// parented by the trace context in its Kafka headers (the bank's relay puts the
// producer span's traceparent there), open from the moment the record joins its
// partition's batch until its row is durable, it is parked in the dead-letter
// topic, skipped as a duplicate, or left for redelivery. Each span belongs to
// exactly one bounded batch, so open spans are bounded like the batches.
// Attributes hold positions, ids and counts only: never the record's payload.
import {
  context,
  extractTraceContext,
  getTracer,
  injectTraceHeaders,
  recordSpanError,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Span,
} from '@wallet/platform/tracing';
import { storeSpanAttributes, type StoreTarget } from '../store/spans.js';
import type { DeadLetter, InsertTiming, WriteResult } from './batch-writer.js';

/** The parts of a Kafka record the spans read. */
export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: bigint;
  headers: Map<string, string>;
}

export type SpanContextOf = ReturnType<Span['spanContext']>;

/** Where a record came from, in messaging semantic-convention names. */
function recordAttributes(record: ConsumedRecord, groupId: string): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': record.topic,
    'messaging.destination.partition.id': String(record.partition),
    'messaging.kafka.offset': Number(record.offset),
    'messaging.consumer.group.name': groupId,
  };
}

/**
 * Starts the record's CONSUMER span. Its parent is the header's traceparent; a
 * record without one, or with an invalid one, starts a new trace (never the
 * consumer loop's own context).
 */
export function startRecordSpan(record: ConsumedRecord, groupId: string): Span {
  const parent = extractTraceContext(record.headers, ROOT_CONTEXT);
  const options = { kind: SpanKind.CONSUMER, attributes: recordAttributes(record, groupId), startTime: spanClockMs() };
  return getTracer().startSpan(`process ${record.topic}`, options, parent);
}

/**
 * The one clock of a record span and its INSERT child (the insert's timings are
 * taken with it too): left to itself the SDK starts a span at Date.now() and adds
 * monotonic time, which can sit a few ms off performance.timeOrigin + now(), so a
 * record span ended right after its insert could end before its child did.
 */
export function spanClockMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Attributes of a flush span `analytics.flush` (one partition's batch). */
export function flushAttributes(record: ConsumedRecord, groupId: string, count: number): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.type': 'process',
    'messaging.destination.name': record.topic,
    'messaging.destination.partition.id': String(record.partition),
    'messaging.consumer.group.name': groupId,
    'messaging.batch.message_count': count,
  };
}

/**
 * The open record spans of one batch. Every span is ended exactly once: by
 * the outcome of its record, or by abandonRest when the batch is left
 * uncommitted (it will be redelivered and traced again).
 */
export class BatchSpans<M extends ConsumedRecord> {
  private readonly open = new Map<M, Span>();

  constructor(
    records: readonly { message: M; span: Span }[],
    private readonly target: StoreTarget,
  ) {
    for (const { message, span } of records) this.open.set(message, span);
  }

  /** Ends the spans of stored and duplicate records; stored ones get an INSERT child linked to the flush span. */
  stored(result: WriteResult<M>, flush: SpanContextOf): void {
    for (const { message, insert } of result.inserted) {
      this.finish(message, 'inserted', (span) => this.insertChild(span, insert, flush));
    }
    for (const message of result.duplicates) this.finish(message, 'duplicate');
  }

  /** Ends the spans of records now parked in the dead-letter topic: status ERROR with the reason. */
  deadLettered(dead: readonly DeadLetter<M>[]): void {
    for (const { message, reason } of dead) {
      this.finish(message, 'dead_lettered', (span) => recordSpanError(span, undefined, `dead-lettered: ${reason}`, reason));
    }
  }

  /**
   * One PRODUCER span per dead letter, child of its record's span, and the
   * headers that carry it into the dead-letter record.
   */
  startDeadLetterSends(dead: readonly DeadLetter<M>[], dlqTopic: string): { spans: Span[]; headers: Record<string, string>[] } {
    const spans: Span[] = [];
    const headers: Record<string, string>[] = [];
    for (const { message } of dead) {
      const recordSpan = this.open.get(message);
      const parent = recordSpan ? trace.setSpan(ROOT_CONTEXT, recordSpan) : ROOT_CONTEXT;
      const span = getTracer().startSpan(
        `send ${dlqTopic}`,
        { kind: SpanKind.PRODUCER, startTime: spanClockMs(), attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'send', 'messaging.operation.name': 'send', 'messaging.destination.name': dlqTopic } },
        parent,
      );
      spans.push(span);
      headers.push(injectTraceHeaders({}, trace.setSpan(ROOT_CONTEXT, span)));
    }
    return { spans, headers };
  }

  /** Runs fn with the record's span active, so a log line about the record carries the record's trace id. */
  inRecordContext<T>(message: M, fn: () => T): T {
    const span = this.open.get(message);
    return span ? context.with(trace.setSpan(ROOT_CONTEXT, span), fn) : fn();
  }

  /** Ends every span still open: the batch was not processed and will be redelivered. */
  abandonRest(error?: unknown): void {
    for (const message of [...this.open.keys()]) {
      this.finish(message, 'left_uncommitted', (span) => {
        const why = 'batch left uncommitted; it will be redelivered';
        if (error === undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: why });
        else recordSpanError(span, error, why);
      });
    }
  }

  private finish(message: M, outcome: string, decorate?: (span: Span) => void): void {
    const span = this.open.get(message);
    if (!span) return;
    this.open.delete(message);
    span.setAttribute('analytics.outcome', outcome);
    decorate?.(span);
    span.end(spanClockMs()); // the clock it started on (a start time given, the SDK would end it on Date.now())
  }

  /** `INSERT <table>` under the record's span, timed as the batch insert that stored its row. */
  private insertChild(span: Span, insert: InsertTiming, flush: SpanContextOf): void {
    if (!span.isRecording()) return; // unsampled: its children would not be recorded either
    const child = getTracer().startSpan(
      `INSERT ${this.target.collection}`,
      {
        kind: SpanKind.CLIENT,
        startTime: insert.startTimeMs,
        links: [{ context: flush }],
        attributes: { ...storeSpanAttributes(this.target, 'INSERT'), 'db.operation.batch.size': insert.rows },
      },
      trace.setSpan(ROOT_CONTEXT, span),
    );
    child.end(insert.endTimeMs);
  }
}

/** Ends producer spans after a send attempt (status ERROR when it failed). */
export function endSends(spans: readonly Span[], error?: unknown): void {
  for (const span of spans) {
    if (error !== undefined) recordSpanError(span, error, 'dead-letter produce failed; retried');
    span.end(spanClockMs());
  }
}
