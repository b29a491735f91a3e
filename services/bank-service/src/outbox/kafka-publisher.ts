// Publishes outbox batches to Kafka with an idempotent producer (acks=all).
import { Producer, stringSerializers, type ProducerOptions } from '@platformatic/kafka';
import type { Logger } from '@wallet/platform';
import type { OutboxMessage, OutboxPublisher } from './relay.js';

export interface KafkaPublisherOptions {
  brokers: string[];
  topic: string;
  clientId: string;
  /** Per-request timeout of the Kafka client. */
  requestTimeoutMs: number;
  logger: Logger;
}

export class KafkaOutboxPublisher implements OutboxPublisher {
  private producer: Producer<string, string, string, string> | undefined;

  constructor(private readonly options: KafkaPublisherOptions) {}

  private getProducer(): Producer<string, string, string, string> {
    if (!this.producer) {
      const producerOptions: ProducerOptions<string, string, string, string> = {
        clientId: this.options.clientId,
        bootstrapBrokers: this.options.brokers,
        serializers: stringSerializers,
        // Idempotent + acks=all: a retried send never duplicates or reorders within a partition.
        idempotent: true,
        acks: -1,
        timeout: this.options.requestTimeoutMs,
        connectTimeout: this.options.requestTimeoutMs,
        retries: 2,
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
      throw error;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.close().catch((error: unknown) => this.options.logger.warn({ err: error }, 'kafka producer close failed'));
  }
}
