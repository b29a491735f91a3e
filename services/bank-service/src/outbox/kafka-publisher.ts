// Publishes outbox batches to Kafka with an idempotent producer (acks=all).
import { Producer, stringSerializers, type ProducerOptions } from '@platformatic/kafka';
import type { KafkaConnectionOptions, Logger } from '@wallet/platform';
import { PermanentPublishError, type OutboxMessage, type OutboxPublisher } from './relay.js';

/** Attempts of one send inside the client (the first plus retries). */
export const KAFKA_SEND_ATTEMPTS = 3;

/**
 * Broker answers that no retry can change for this record: it is too large, malformed, or
 * its topic name is invalid. Anything else (leaders moving, timeouts, auth) is transient or
 * systemic and must not quarantine events.
 */
const PERMANENT_PROTOCOL_ERRORS = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE', 'INVALID_RECORD', 'INVALID_TOPIC_EXCEPTION', 'INVALID_REQUIRED_ACKS']);

/** The permanent broker error inside a (possibly nested) client error, if any. */
export function permanentRejection(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || typeof error !== 'object' || error === null) return undefined;
  const { apiId, errors, cause } = error as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof apiId === 'string' && PERMANENT_PROTOCOL_ERRORS.has(apiId)) return apiId;
  for (const inner of Array.isArray(errors) ? errors : []) {
    const found = permanentRejection(inner, depth + 1);
    if (found) return found;
  }
  return permanentRejection(cause, depth + 1);
}

export interface KafkaPublisherOptions {
  brokers: string[];
  topic: string;
  clientId: string;
  /** Per-request timeout of the Kafka client. */
  requestTimeoutMs: number;
  /** TLS / SASL (platform kafkaConnectionOptions); absent = plaintext. */
  connection?: KafkaConnectionOptions;
  logger: Logger;
}

export class KafkaOutboxPublisher implements OutboxPublisher {
  private producer: Producer<string, string, string, string> | undefined;

  constructor(private readonly options: KafkaPublisherOptions) {}

  get topic(): string {
    return this.options.topic;
  }

  private getProducer(): Producer<string, string, string, string> {
    if (!this.producer) {
      const producerOptions: ProducerOptions<string, string, string, string> = {
        ...this.options.connection,
        clientId: this.options.clientId,
        bootstrapBrokers: this.options.brokers,
        serializers: stringSerializers,
        // Idempotent + acks=all: a retried send never duplicates or reorders within a partition.
        idempotent: true,
        acks: -1,
        timeout: this.options.requestTimeoutMs,
        connectTimeout: this.options.requestTimeoutMs,
        retries: KAFKA_SEND_ATTEMPTS - 1,
        retryDelay: 200,
        autocreateTopics: false,
      };
      this.producer = new Producer(producerOptions);
    }
    return this.producer;
  }

  async publish(messages: OutboxMessage[]): Promise<void> {
    const producer = this.getProducer();
    try {
      await producer.send({
        messages: messages.map((m) => ({ topic: this.options.topic, key: m.key, value: m.value, headers: m.headers })),
      });
    } catch (error) {
      // After a broker outage a fresh producer (new connections, new producer
      // id) recovers more reliably than the old one; the relay retries the batch.
      this.producer = undefined;
      await producer.close().catch(() => {});
      const rejection = permanentRejection(error);
      if (rejection) throw new PermanentPublishError(rejection, { cause: error });
      throw error;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.close().catch((error: unknown) => this.options.logger.warn({ err: error }, 'kafka producer close failed'));
  }
}
