// Consumes wallet.operations in a consumer group and stores it in batches,
// one lane per partition: each partition batches, stores and commits on its
// own, so a partition whose store step is retrying does not hold up the
// others (its own buffer is bounded; past it, reading waits). What to store
// and what to park is decided by BatchWriter (./batch-writer.ts).
//
// Delivery is at-least-once: offsets are committed only after the batch's
// rows are in the store and its rejects are in the dead-letter topic, so a
// crash anywhere before the commit replays the batch. Effects are
// exactly-once because the store ignores event ids it already holds (lookup
// before insert, and ReplacingMergeTree + FINAL for the races the lookup
// cannot see). See docs/adr/0004-analytics-clickhouse-table-and-dedup.md.
import {
  Consumer,
  ProduceAcks,
  Producer,
  stringDeserializer,
  stringSerializer,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka';
import { backoffDelayMs, settleWithin, type KafkaConnectionOptions, type Logger } from '@wallet/platform';
import { SpanKind, withSpan, type Span } from '@wallet/platform/tracing';
import type { AnalyticsMetrics } from '../metrics.js';
import type { StoreTarget } from '../store/spans.js';
import { BatchWriter, StoreStuckError, type DeadLetter } from './batch-writer.js';
import { BatchSpans, endSends, flushAttributes, startRecordSpan } from './record-spans.js';
import type { EventValidator } from './validator.js';

import type { OperationsSink } from './batch-writer.js';

export type { OperationsSink };

type RawMessage = Message<string, Buffer, string, string>;

/** A record waiting in its lane, with its open `process` span. */
interface PendingRecord {
  message: RawMessage;
  span: Span;
}

/** One partition's batch in the making, and its flush in flight (at most one). */
interface Lane {
  partition: number;
  pending: PendingRecord[];
  firstAtMs: number;
  flushing: Promise<void> | undefined;
}

export interface OperationsConsumerOptions {
  brokers: string[];
  /** TLS / SASL of the consumer and the dead-letter producer (kafkaConnectionOptions); none = plaintext. */
  connection?: KafkaConnectionOptions;
  clientId: string;
  groupId: string;
  topic: string;
  dlqTopic: string;
  batchSizeMax: number;
  /** A partition's batch is stored once its oldest record waited this long (0 = as soon as the lane is idle). */
  batchWaitMsMax: number;
  /** Least time between the starts of two grouped store steps (all partitions' batches in one lookup + insert). */
  storeIntervalMsMin?: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  fetchWaitMsMax: number;
  /** Bytes one fetch may bring; also per partition. */
  fetchBytesMax?: number;
  requestTimeoutMs: number;
  retryDelayMsMax: number;
  lagIntervalMs: number;
  /** Static membership id (KIP-345); empty = dynamic membership. */
  groupInstanceId: string;
  /** Attempts of a transiently failing store step before the stream restarts from the last commit. */
  storeAttemptsMax: number;
  /** Test hook: never commit after an insert (the crash test kills the process there). */
  holdBeforeCommit?: boolean;
}

/** This replica's place in the consumer group, for /readyz detail and logs. */
export interface GroupMembership {
  groupId: string;
  /** Static membership id ('' = dynamic). */
  instanceId: string;
  /** The broker's id for this member; null while not joined. */
  memberId: string | null;
  generation: number;
  /** Partitions of the operations topic assigned to this replica (sorted). */
  partitions: number[];
}

/** A partition of a topic (what a consumer group member is assigned). */
export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface OperationsConsumerDeps {
  sink: OperationsSink;
  validator: EventValidator;
  metrics: AnalyticsMetrics;
  logger: Logger;
  /**
   * Called after a batch's rows are durably in the store and before its offsets are committed,
   * with the (lowercased) accounts it stored rows for, including rows that were already stored.
   * For invalidating what readers cached about those accounts. Synchronous; a throw is logged.
   */
  onStored?: (accountIds: ReadonlySet<string>) => void;
  /**
   * Called with this member's whole new assignment of the operations topic whenever it may have
   * changed: [] when a rebalance starts (eager protocol: nothing is owned until the new
   * assignment), when leaving the group and when the stream restarts; the new assignment on every
   * join. Synchronous; a throw is logged.
   */
  onAssignmentChanged?: (assigned: ReadonlyArray<TopicPartition>) => void;
}

const STOP = Symbol('stop');
const TIMEOUT = Symbol('timeout');
const LANE_FAILED = Symbol('lane failed');
/** While idle the loop still wakes up this often (to notice a stop quickly). */
const IDLE_WAKE_MS = 1_000;
/** After stop() is requested, a failing step gets this many more attempts, then is abandoned uncommitted. */
const ATTEMPTS_AFTER_STOP = 2;
const COMMIT_ATTEMPTS = 3;
const DLQ_DETAIL_CHARS_MAX = 300;
/** A partition buffers at most this many batches while its previous one is being stored. */
const LANE_BATCHES_MAX = 2;
/** Rows of one grouped store step (all lanes' batches together), unless one batch is larger. */
const STORE_GROUP_ROWS_MAX = 10_000;
/** Bound of each close step at shutdown. */
const CLOSE_TIMEOUT_MS = 5_000;
/** ListOffsets timestamp meaning "the log start offset". */
const EARLIEST_OFFSET = -2n;
/** Named in spans when the sink does not say which table it writes. */
const UNKNOWN_TARGET: StoreTarget = { namespace: '', collection: 'operations' };

class FlushAbandoned extends Error {}

export class OperationsConsumer {
  private readonly consumer: Consumer<string, Buffer, string, string>;
  private readonly producer: Producer<string, Buffer, string, string>;
  private stream: MessagesStream<string, Buffer, string, string> | undefined;
  private loop: Promise<void> | undefined;
  private lagTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopRequested!: Promise<typeof STOP>;
  private signalStop!: () => void;
  private readonly writer: BatchWriter;
  /** The first lane failure of the current stream; the stream is then reopened from the last commit. */
  private laneFailure: unknown;
  /**
   * Wakes the read loop's current wait (stop or lane failure). One callback, replaced per wait:
   * racing every read against a long-lived promise would add a reaction to it per record and
   * keep them all (the memory growth of issue 9).
   */
  private interruptWait: (() => void) | undefined;
  private readonly stopListeners = new Set<() => void>();
  /** Sum of the last measured lag over all partitions; undefined until measured. */
  lastLagTotal: bigint | undefined;

  constructor(
    private readonly options: OperationsConsumerOptions,
    private readonly deps: OperationsConsumerDeps,
  ) {
    this.stopRequested = new Promise((resolve) => {
      this.signalStop = () => {
        resolve(STOP);
        for (const listener of [...this.stopListeners]) listener();
        this.interruptWait?.();
      };
    });
    this.writer = new BatchWriter({
      ...deps,
      storeAttemptsMax: options.storeAttemptsMax,
      retryDelayMsMax: options.retryDelayMsMax,
      storeIntervalMsMin: options.storeIntervalMsMin ?? 0,
      // Every lane's batch fits in one group at least.
      storeRowsMax: Math.max(options.batchSizeMax, STORE_GROUP_ROWS_MAX),
      pause: (ms) => this.pause(ms),
      stopping: () => this.stopping,
    });
    const base = {
      ...options.connection,
      bootstrapBrokers: options.brokers,
      timeout: options.requestTimeoutMs,
      retries: 3,
      retryDelay: 250,
    };
    this.consumer = new Consumer({
      ...base,
      // A JoinGroup legitimately blocks on the broker for up to the rebalance
      // timeout (waiting for other members); it must not time out before that.
      timeout: Math.max(options.requestTimeoutMs, options.sessionTimeoutMs + 5_000),
      clientId: options.clientId,
      groupId: options.groupId,
      // Static membership: after a crash the restarted member reclaims its partitions at
      // once instead of waiting for the broker to expire the dead member's session.
      ...(options.groupInstanceId ? { groupInstanceId: options.groupInstanceId } : {}),
      autocommit: false,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTime: options.fetchWaitMsMax,
      // A fetch response is pushed into the stream whole: its size, not highWaterMark, bounds what is buffered.
      ...(options.fetchBytesMax ? { maxBytes: options.fetchBytesMax, maxBytesPerPartition: options.fetchBytesMax } : {}),
      // The stream buffers at most about one batch ahead: memory stays bounded while a flush is slow.
      highWaterMark: Math.max(16, options.batchSizeMax),
      deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    });
    this.producer = new Producer({
      ...base,
      clientId: `${options.clientId}-dlq`,
      idempotent: true,
      acks: ProduceAcks.ALL,
      serializers: { key: stringSerializer, headerKey: stringSerializer, headerValue: stringSerializer },
    });
  }

  /**
   * Starts consuming in the background. Joining the group can take a while
   * (a fresh broker creates its offsets topic; a crashed predecessor must time
   * out of the group), so it is retried by the loop rather than awaited here.
   */
  start(): void {
    this.consumer.on('error', (error: unknown) => this.deps.logger.error({ err: error }, 'kafka consumer error'));
    // Every (re)join: who holds what after a rebalance (a replica's death hands its partitions over).
    this.consumer.on('consumer:group:join', () => {
      const membership = this.membership();
      this.deps.metrics.assignedPartitions.set(membership.partitions.length);
      this.deps.logger.info({ memberId: membership.memberId, generation: membership.generation, partitions: membership.partitions }, 'joined the consumer group');
      this.assignmentChanged(membership.partitions.map((partition) => ({ topic: this.options.topic, partition })));
    });
    // A rebalance may take partitions away before the new assignment is known: own nothing meanwhile.
    this.consumer.on('consumer:group:rebalance', () => this.assignmentChanged([]));
    this.consumer.on('consumer:group:leave', () => {
      this.deps.metrics.assignedPartitions.set(0);
      this.assignmentChanged([]);
    });
    this.producer.on('error', (error: unknown) => this.deps.logger.error({ err: error }, 'kafka producer error'));
    this.loop = this.run();
    this.scheduleLag();
  }

  /** Tells the owner of the hook; a failing hook must not stop the consuming. */
  private assignmentChanged(assigned: TopicPartition[]): void {
    try {
      this.deps.onAssignmentChanged?.(assigned);
    } catch (error) {
      this.deps.logger.error({ err: error }, 'onAssignmentChanged hook failed');
    }
  }

  private storedHook(accountIds: ReadonlySet<string>): void {
    if (accountIds.size === 0 || !this.deps.onStored) return;
    try {
      this.deps.onStored(accountIds);
    } catch (error) {
      this.deps.logger.error({ err: error }, 'onStored hook failed');
    }
  }

  /** Stops fetching, flushes and commits the current batch, closes the clients; each step bounded. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.signalStop();
    if (this.lagTimer) clearTimeout(this.lagTimer);
    const bound = Math.min(this.options.requestTimeoutMs, CLOSE_TIMEOUT_MS);
    await settleOrWarn(this.loop ?? Promise.resolve(), this.options.requestTimeoutMs, () => this.deps.logger.warn('consumer loop did not finish in time'));
    await settleOrWarn(this.stream?.close() ?? Promise.resolve(), bound, () => this.deps.logger.warn('stream close timed out'));
    // force: close our streams and leave the group now, rather than after the session timeout.
    await settleOrWarn(new Promise<void>((resolve) => this.consumer.close(true, () => resolve())), bound, () => this.deps.logger.warn('consumer close timed out'));
    await settleOrWarn(this.producer.close(), bound, () => this.deps.logger.warn('producer close timed out'));
  }

  /** The group, this member and the partitions of our topic it holds (empty while not joined). */
  membership(): GroupMembership {
    const assignments = this.consumer.assignments ?? [];
    const partitions = assignments
      .filter((assignment) => assignment.topic === this.options.topic)
      .flatMap((assignment) => assignment.partitions)
      .sort((a, b) => a - b);
    const joined = this.consumer.memberId !== null && this.consumer.memberId !== undefined && this.consumer.assignments !== null;
    return {
      groupId: this.options.groupId,
      instanceId: this.options.groupInstanceId,
      memberId: joined ? this.consumer.memberId : null,
      generation: joined ? this.consumer.generationId : 0,
      partitions: joined ? partitions : [],
    };
  }

  /** Readiness: the brokers answer a metadata request for our topic. */
  async brokerReachable(): Promise<boolean> {
    const metadata = await this.consumer.metadata({ topics: [this.options.topic], forceUpdate: true });
    return metadata.brokers.size > 0;
  }

  private async openStream(): Promise<MessagesStream<string, Buffer, string, string>> {
    return this.consumer.consume({
      topics: [this.options.topic],
      // Resume from the group's committed offsets; a new group starts at the beginning.
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
      sessionTimeout: this.options.sessionTimeoutMs,
      rebalanceTimeout: this.options.sessionTimeoutMs,
      heartbeatInterval: this.options.heartbeatIntervalMs,
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const stream = await this.openStream();
        this.stream = stream;
        stream.on('error', (error: unknown) => this.deps.logger.debug({ err: error }, 'consumer stream error'));
        if (failures > 0) this.deps.logger.info({ failures }, 'consumer stream reopened');
        failures = 0;
        await this.consumeStream(stream);
      } catch (error) {
        failures += 1;
        this.deps.logger.error({ err: error, failures }, 'consumer stream failed; reopening');
        // Reopening may rejoin with another assignment: own nothing until the next join says what.
        this.assignmentChanged([]);
        await settleOrWarn(this.stream?.close() ?? Promise.resolve(), this.options.requestTimeoutMs, () => {});
        this.stream = undefined;
        await this.pause(backoffDelayMs(failures, 200, this.options.retryDelayMsMax));
      }
    }
  }

  /** Reads the stream into per-partition lanes; lanes flush on size and age; all drain on end and stop. */
  private async consumeStream(stream: MessagesStream<string, Buffer, string, string>): Promise<void> {
    const iterator = stream[Symbol.asyncIterator]();
    const lanes = new Map<number, Lane>();
    this.laneFailure = undefined;
    let next = iterator.next();
    next.catch(() => {}); // observed below; avoids an unhandled rejection if we stop first
    try {
      for (;;) {
        const outcome = await this.nextOutcome(next, this.nextDeadlineMs(lanes));
        if (outcome === LANE_FAILED) {
          await this.drainLanes(lanes, false);
          throw this.laneFailure;
        }
        if (outcome === STOP || (outcome !== TIMEOUT && outcome.done)) {
          await this.drainLanes(lanes, true);
          if (!this.stopping) throw new Error('consumer stream ended');
          return;
        }
        if (outcome !== TIMEOUT) {
          await this.accept(lanes, outcome.value);
          next = iterator.next();
          next.catch(() => {});
        }
        for (const lane of lanes.values()) this.kick(lane, false);
      }
    } finally {
      // Whatever is still buffered is redelivered from the last commit: its spans end here.
      this.dropPending(lanes);
    }
  }

  /** The next record, or TIMEOUT after waitMs, or STOP / LANE_FAILED as soon as either happens. */
  private nextOutcome<T>(next: Promise<T>, waitMs: number): Promise<T | typeof TIMEOUT | typeof STOP | typeof LANE_FAILED> {
    if (this.laneFailure !== undefined) return Promise.resolve(LANE_FAILED);
    if (this.stopping) return Promise.resolve(STOP);
    return new Promise((resolve, reject) => {
      let settled = false;
      // A record arriving after this wait ended (TIMEOUT) must not touch the next wait's state.
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.interruptWait = undefined;
        settle();
      };
      const timer = setTimeout(() => finish(() => resolve(TIMEOUT)), waitMs);
      this.interruptWait = () => finish(() => resolve(this.laneFailure !== undefined ? LANE_FAILED : STOP));
      next.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }

  /** Milliseconds until the oldest idle lane's batch is due (or the idle wake-up). */
  private nextDeadlineMs(lanes: Map<number, Lane>): number {
    let due = Date.now() + IDLE_WAKE_MS;
    for (const lane of lanes.values()) {
      if (lane.pending.length > 0 && !lane.flushing) due = Math.min(due, lane.firstAtMs + this.options.batchWaitMsMax);
    }
    return Math.max(0, due - Date.now());
  }

  /** Adds a record to its partition's lane; waits while that lane's buffer is full. */
  private async accept(lanes: Map<number, Lane>, message: RawMessage): Promise<void> {
    let lane = lanes.get(message.partition);
    if (!lane) {
      lane = { partition: message.partition, pending: [], firstAtMs: 0, flushing: undefined };
      lanes.set(message.partition, lane);
    }
    if (lane.pending.length === 0) lane.firstAtMs = Date.now();
    lane.pending.push({ message, span: startRecordSpan(message, this.options.groupId) });
    this.updatePending(lanes);
    // Bounded memory: a partition stuck in a retry stops the reading once its buffer is full.
    while (lane.pending.length >= this.options.batchSizeMax * LANE_BATCHES_MAX && lane.flushing && this.laneFailure === undefined) {
      await lane.flushing;
    }
  }

  /** Starts the lane's next flush if it is idle and its batch is full, old enough, or forced. */
  private kick(lane: Lane, force: boolean): void {
    if (lane.flushing || lane.pending.length === 0 || this.laneFailure !== undefined) return;
    const due = force || lane.pending.length >= this.options.batchSizeMax || Date.now() >= lane.firstAtMs + this.options.batchWaitMsMax;
    if (!due) return;
    const batch = lane.pending.splice(0, this.options.batchSizeMax);
    lane.firstAtMs = Date.now();
    lane.flushing = this.flush(batch)
      .catch((error: unknown) => {
        if (this.laneFailure === undefined) this.laneFailure = error;
        this.interruptWait?.();
      })
      .finally(() => {
        lane.flushing = undefined;
        this.kick(lane, this.stopping);
      });
  }

  /** Waits for every lane's flushes; with flushRest, also flushes what is still buffered. */
  private async drainLanes(lanes: Map<number, Lane>, flushRest: boolean): Promise<void> {
    for (;;) {
      if (flushRest) for (const lane of lanes.values()) this.kick(lane, true);
      const inFlight = [...lanes.values()].map((lane) => lane.flushing).filter((p): p is Promise<void> => p !== undefined);
      if (inFlight.length === 0) break;
      await Promise.all(inFlight);
    }
    this.dropPending(lanes);
  }

  /** Forgets the records still buffered (not flushed: redelivered later) and ends their spans. */
  private dropPending(lanes: Map<number, Lane>): void {
    for (const lane of lanes.values()) {
      new BatchSpans(lane.pending, UNKNOWN_TARGET).abandonRest();
      lane.pending = [];
    }
    this.updatePending(lanes);
  }

  private updatePending(lanes: Map<number, Lane>): void {
    let total = 0;
    for (const lane of lanes.values()) total += lane.pending.length;
    this.deps.metrics.batchPending.set(total);
  }

  /**
   * Stores one partition's batch, parks its rejects, then commits it, in a
   * root span `analytics.flush`. Throws only when the store is stuck.
   */
  private async flush(batch: PendingRecord[]): Promise<void> {
    const first = batch[0];
    if (!first) return;
    const spans = new BatchSpans(batch, this.deps.sink.target ?? UNKNOWN_TARGET);
    try {
      await withSpan(
        'analytics.flush',
        { kind: SpanKind.INTERNAL, root: true, attributes: flushAttributes(first.message, this.options.groupId, batch.length) },
        (flushSpan) => this.storeAndCommit(batch.map((p) => p.message), spans, flushSpan),
      );
      spans.abandonRest();
    } catch (error) {
      spans.abandonRest(error);
      throw error;
    }
  }

  private async storeAndCommit(messages: RawMessage[], spans: BatchSpans<RawMessage>, flushSpan: Span): Promise<void> {
    const { metrics, logger } = this.deps;
    metrics.batchSize.observe(messages.length);
    metrics.eventsConsumed.inc(messages.length);
    try {
      const result = await this.writer.write(messages);
      this.storedHook(result.accountIds);
      // Rows are durable now: their record spans end here, before the commit.
      spans.stored(result, flushSpan.spanContext());
      for (const { message, reason, detail } of result.dead) {
        // The payload is never logged: only where it was and why it was refused (with the record's trace id).
        spans.inRecordContext(message, () =>
          logger.warn({ topic: message.topic, partition: message.partition, offset: message.offset.toString(), reason, detail }, 'rejected event parked in the dead-letter topic'),
        );
      }
      if (this.options.holdBeforeCommit) {
        logger.warn({ records: messages.length }, 'test hook: batch inserted, holding before commit');
        await this.stopRequested;
        throw new FlushAbandoned('test hook: stopped while holding before commit');
      }
      if (result.dead.length > 0) {
        await this.attempt('dlq', () => this.sendToDeadLetter(result.dead, spans));
        metrics.deadLettered.inc(result.dead.length);
        spans.deadLettered(result.dead);
      }
    } catch (error) {
      if (error instanceof FlushAbandoned || (this.stopping && error instanceof StoreStuckError)) {
        logger.warn({ records: messages.length, reason: (error as Error).message }, 'batch left uncommitted; it will be redelivered');
        flushSpan.setAttribute('analytics.flush.outcome', 'left_uncommitted');
        return;
      }
      throw error;
    }
    await this.commit(messages);
    flushSpan.setAttribute('analytics.flush.outcome', 'committed');
  }

  /** Produces the rejects, each with the trace context of its own `send` span (a child of its record's span). */
  private async sendToDeadLetter(rejects: DeadLetter<RawMessage>[], spans: BatchSpans<RawMessage>): Promise<void> {
    const sends = spans.startDeadLetterSends(rejects, this.options.dlqTopic);
    try {
      await this.producer.send({
        messages: rejects.map(({ message, reason, detail }, index) => {
          const headers: Record<string, string> = {
            ...sends.headers[index],
            dlqReason: reason,
            dlqDetail: detail.slice(0, DLQ_DETAIL_CHARS_MAX),
            sourceTopic: message.topic,
            sourcePartition: String(message.partition),
            sourceOffset: message.offset.toString(),
          };
          const eventType = message.headers.get('eventType');
          if (eventType !== undefined) headers.eventType = eventType;
          return {
            topic: this.options.dlqTopic,
            ...(message.key !== undefined ? { key: message.key } : {}),
            // The original bytes, unchanged, so the event can be inspected and replayed.
            value: message.value ?? Buffer.alloc(0),
            headers,
          };
        }),
      });
    } catch (error) {
      endSends(sends.spans, error);
      throw error;
    }
    endSends(sends.spans);
  }

  /** Commits the highest offset per partition of the batch. A failure only means redelivery. */
  private async commit(messages: RawMessage[]): Promise<void> {
    const lastByPartition = new Map<string, RawMessage>();
    for (const message of messages) {
      const key = `${message.topic}:${message.partition}`;
      const previous = lastByPartition.get(key);
      if (!previous || previous.offset < message.offset) lastByPartition.set(key, message);
    }
    for (const message of lastByPartition.values()) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          await message.commit();
          break;
        } catch (error) {
          if (attempt >= COMMIT_ATTEMPTS) {
            this.deps.metrics.commitFailures.inc();
            this.deps.logger.warn(
              { err: error, topic: message.topic, partition: message.partition, offset: message.offset.toString() },
              'offset commit failed (partition revoked or coordinator moved); the batch will be redelivered and deduplicated',
            );
            break;
          }
          await this.pause(backoffDelayMs(attempt, 100, 1_000));
        }
      }
    }
  }

  /**
   * Retries a step with capped exponential backoff until it succeeds. Once a
   * stop is requested it gets a few more attempts, then the batch is
   * abandoned uncommitted (it will be redelivered).
   */
  private async attempt(stage: 'dlq', step: () => Promise<void>): Promise<void> {
    let attemptsAfterStop = 0;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await step();
        return;
      } catch (error) {
        this.deps.metrics.flushFailures.inc({ stage });
        this.deps.logger.error({ err: error, stage, attempt }, 'batch step failed; retrying');
        if (this.stopping && ++attemptsAfterStop > ATTEMPTS_AFTER_STOP) {
          throw new FlushAbandoned(`${stage} still failing at shutdown`);
        }
        await this.pause(backoffDelayMs(attempt, 100, this.options.retryDelayMsMax));
      }
    }
  }

  /** Sleeps, but wakes up at once when a stop is requested. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.stopListeners.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (this.stopping) done();
      else this.stopListeners.add(done);
    });
  }

  private scheduleLag(): void {
    this.lagTimer = setTimeout(() => {
      this.measureLag()
        .catch((error: unknown) => this.deps.logger.debug({ err: error }, 'lag measurement failed'))
        .finally(() => {
          if (!this.stopping) this.scheduleLag();
        });
    }, this.options.lagIntervalMs);
    this.lagTimer.unref();
  }

  /**
   * Lag per partition = log end offset (high watermark) minus the group's
   * committed offset (the next offset to process; we commit only what is
   * stored or parked). With nothing committed yet, minus the log start: records
   * removed by retention are not lag. Every partition of the topic is reported,
   * assigned to this replica or not (the group's view: the same on every replica).
   */
  async measureLag(): Promise<Map<number, bigint>> {
    const topic = this.options.topic;
    const [latestByTopic, earliestByTopic] = await Promise.all([
      this.consumer.listOffsets({ topics: [topic] }),
      this.consumer.listOffsets({ topics: [topic], timestamp: EARLIEST_OFFSET }),
    ]);
    const latest = latestByTopic.get(topic) ?? [];
    const earliest = earliestByTopic.get(topic) ?? [];
    const partitions = latest.map((_, index) => index);
    const committed = (await this.consumer.listCommittedOffsets({ topics: [{ topic, partitions }] })).get(topic) ?? [];
    const lag = new Map<number, bigint>();
    let total = 0n;
    for (const partition of partitions) {
      const end = latest[partition] ?? 0n;
      const done = committed[partition] ?? -1n;
      // -1: nothing committed yet, so everything still in the partition is to do.
      const from = done < 0n ? (earliest[partition] ?? 0n) : done;
      const value = end > from ? end - from : 0n;
      lag.set(partition, value);
      total += value;
      this.deps.metrics.consumerLag.set({ topic, partition: String(partition) }, Number(value));
    }
    this.lastLagTotal = total;
    return lag;
  }
}

/** Waits for a promise at most ms (its rejection is ignored); calls onTimeout if time ran out. */
async function settleOrWarn(promise: Promise<unknown>, ms: number, onTimeout: () => void): Promise<void> {
  if (!(await settleWithin(promise, ms))) onTimeout();
}
