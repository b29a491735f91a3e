// How many partitions the operations topic has: the page cache needs it to map
// an account id to its partition (partitionForKey). Asked only after an
// assignment change (rare), with a short-lived metadata client, so the
// consumer's own connections are left alone.
import { Admin } from '@platformatic/kafka';
import type { KafkaConnectionOptions } from '@wallet/platform';

export interface TopicPartitionsOptions {
  brokers: string[];
  connection?: KafkaConnectionOptions;
  clientId: string;
  topic: string;
  requestTimeoutMs: number;
}

/** The topic's partition count, from fresh metadata; 0 when the broker does not know the topic. */
export async function topicPartitionsCount(options: TopicPartitionsOptions): Promise<number> {
  const admin = new Admin({
    ...options.connection,
    bootstrapBrokers: options.brokers,
    clientId: `${options.clientId}-metadata`,
    timeout: options.requestTimeoutMs,
    retries: 1,
  });
  try {
    const metadata = await admin.metadata({ topics: [options.topic], forceUpdate: true });
    return metadata.topics.get(options.topic)?.partitionsCount ?? 0;
  } finally {
    await admin.close();
  }
}
