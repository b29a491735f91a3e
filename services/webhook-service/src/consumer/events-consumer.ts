// Consumes wallet.operations in its own group (WEBHOOK_KAFKA_GROUP_ID,
// default webhook-service) and fans each batch out into deliveries (one
// transaction), then commits the batch's offsets. At-least-once: a crash
// before the commit replays the batch, and the fan-out ignores events it
// already stored (idempotent on eventId). A batch whose fan-out fails (the
// database or the bank is down) is retried with capped backoff, never
// skipped; an event that is not even parseable is logged, counted and skipped.
import { Consumer, stringDeserializer, type Message, type MessagesStream } from '@platformatic/kafka';
import { backoffDelayMs, settleWithin, type KafkaConnectionOptions, type Logger } from '@wallet/platform';
import type { IncomingEvent } from '../db/deliveries.js';
import { parseEvent } from '../app/fanout.js';

type RawMessage = Message<string, Buffer, string, string>;

export interface EventsConsumerOptions {
  brokers: string[];
  connection?: KafkaConnectionOptions;
  clientId: string;
  groupId: string;
  topic: string;
  batchSizeMax: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  fetchWaitMsMax: number;
  requestTimeoutMs: number;
  retryDelayMsMax: number;
}

export interface EventsConsumerDeps {
  logger: Logger;
  /** Stores the batch's events and deliveries; throws to have the batch retried. */
  handle(events: IncomingEvent[]): Promise<void>;
  onEvents?: (outcome: 'stored' | 'invalid', count: number) => void;
}

/** While idle the loop still wakes up this often. */
const IDLE_WAKE_MS = 500;
/** A batch closes when no further record arrives within this long. */
const BATCH_LINGER_MS = 20;
const TIMEOUT = Symbol('timeout');
const STOP = Symbol('stop');
const CLOSE_TIMEOUT_MS = 5_000;

export class EventsConsumer {
  private readonly consumer: Consumer<string, Buffer, string, string>;
  private stream: MessagesStream<string, Buffer, string, string> | undefined;
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly options: EventsConsumerOptions,
    private readonly deps: EventsConsumerDeps,
  ) {
    this.consumer = new Consumer({
      ...options.connection,
      bootstrapBrokers: options.brokers,
      // JoinGroup may block for up to the rebalance timeout.
      timeout: Math.max(options.requestTimeoutMs, options.sessionTimeoutMs + 5_000),
      retries: 3,
      retryDelay: 250,
      clientId: options.clientId,
      groupId: options.groupId,
      autocommit: false,
      sessionTimeout: options.sessionTimeoutMs,
      rebalanceTimeout: options.sessionTimeoutMs,
      heartbeatInterval: options.heartbeatIntervalMs,
      maxWaitTime: options.fetchWaitMsMax,
      highWaterMark: Math.max(16, options.batchSizeMax),
      deserializers: { key: stringDeserializer, headerKey: stringDeserializer, headerValue: stringDeserializer },
    });
  }

  start(): void {
    this.consumer.on('error', (error: unknown) => this.deps.logger.error({ err: error }, 'kafka consumer error'));
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake?.();
    await settleWithin(this.loop ?? Promise.resolve(), this.options.requestTimeoutMs);
    await settleWithin(this.stream?.close() ?? Promise.resolve(), CLOSE_TIMEOUT_MS);
    await settleWithin(new Promise<void>((resolve) => this.consumer.close(true, () => resolve())), CLOSE_TIMEOUT_MS);
  }

  /** Readiness: the brokers answer a metadata request. */
  async brokerReachable(): Promise<boolean> {
    const metadata = await this.consumer.metadata({ topics: [this.options.topic], forceUpdate: true });
    return metadata.brokers.size > 0;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const stream = await this.consumer.consume({
          topics: [this.options.topic],
          mode: 'committed',
          fallbackMode: 'earliest',
          autocommit: false,
          sessionTimeout: this.options.sessionTimeoutMs,
          rebalanceTimeout: this.options.sessionTimeoutMs,
          heartbeatInterval: this.options.heartbeatIntervalMs,
        });
        this.stream = stream;
        stream.on('error', (error: unknown) => this.deps.logger.debug({ err: error }, 'consumer stream error'));
        failures = 0;
        await this.consumeStream(stream);
      } catch (error) {
        failures += 1;
        this.deps.logger.error({ err: error, failures }, 'consumer stream failed; reopening from the last commit');
        await settleWithin(this.stream?.close() ?? Promise.resolve(), this.options.requestTimeoutMs);
        this.stream = undefined;
        if (!this.stopping) await this.pause(backoffDelayMs(failures, 200, this.options.retryDelayMsMax));
      }
    }
  }

  /**
   * Reads with the stream's async iterator (as the analytics consumer does; reading the stream in
   * paused mode with read() stalled after the first batch under load): a batch closes when it is
   * full or when no record follows within BATCH_LINGER_MS. A stop leaves the open batch
   * uncommitted: it is replayed after the restart and deduplicated.
   */
  private async consumeStream(stream: MessagesStream<string, Buffer, string, string>): Promise<void> {
    const iterator = stream[Symbol.asyncIterator]();
    let next = iterator.next();
    next.catch(() => {}); // observed below; no unhandled rejection if we stop first
    const batch: RawMessage[] = [];
    while (!this.stopping) {
      const outcome = await this.nextWithin(next, batch.length === 0 ? IDLE_WAKE_MS : BATCH_LINGER_MS);
      if (outcome === STOP) return;
      if (outcome === TIMEOUT) {
        if (batch.length > 0) await this.process(batch.splice(0));
        continue;
      }
      if (outcome.done) {
        if (batch.length > 0) await this.process(batch.splice(0));
        if (!this.stopping) throw new Error('consumer stream ended');
        return;
      }
      batch.push(outcome.value as RawMessage);
      next = iterator.next();
      next.catch(() => {});
      if (batch.length >= this.options.batchSizeMax) await this.process(batch.splice(0));
    }
  }

  /** The next record, or TIMEOUT after waitMs, or STOP as soon as stop() is called. */
  private nextWithin<T>(next: Promise<T>, waitMs: number): Promise<T | typeof TIMEOUT | typeof STOP> {
    if (this.stopping) return Promise.resolve(STOP);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.wake = undefined;
        settle();
      };
      const timer = setTimeout(() => finish(() => resolve(TIMEOUT)), waitMs);
      this.wake = () => finish(() => resolve(STOP));
      next.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }

  /** Fans the batch out (retried until it succeeds or we stop), then commits its offsets. */
  private async process(batch: RawMessage[]): Promise<void> {
    const events: IncomingEvent[] = [];
    let invalid = 0;
    for (const message of batch) {
      const parsed = parseEvent(message.value);
      if (parsed.ok) events.push(parsed.event);
      else {
        invalid += 1;
        this.deps.logger.warn({ partition: message.partition, offset: message.offset.toString(), reason: parsed.reason }, 'event skipped: not a wallet.operations event');
      }
    }
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.deps.handle(events);
        break;
      } catch (error) {
        this.deps.logger.warn({ err: error, attempt, events: events.length }, 'fan-out failed; retrying the batch');
        // Stopping: leave it uncommitted; it is replayed after the restart.
        if (this.stopping) throw new Error('stopped before the batch was stored', { cause: error });
        await this.pause(backoffDelayMs(attempt, 200, this.options.retryDelayMsMax));
      }
    }
    this.deps.onEvents?.('stored', events.length);
    if (invalid > 0) this.deps.onEvents?.('invalid', invalid);
    await this.commit(batch);
  }

  /** The highest offset per partition; a failure only means the batch is replayed (and deduplicated). */
  private async commit(batch: RawMessage[]): Promise<void> {
    const last = new Map<number, RawMessage>();
    for (const message of batch) {
      const previous = last.get(message.partition);
      if (!previous || previous.offset < message.offset) last.set(message.partition, message);
    }
    for (const message of last.values()) {
      try {
        await message.commit();
      } catch (error) {
        this.deps.logger.warn({ err: error, partition: message.partition }, 'offset commit failed; the batch will be replayed and deduplicated');
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
