// An in-process webhook-service on a throw-away database and Kafka topic, with
// the root test issuer for tokens and the run's PKI (mutual TLS, as the
// gateway calls it). The bank's owners come from an in-memory directory
// (GetAccountOwners has its own test in the bank-service).
import { randomUUID } from 'node:crypto';
import { WebhookServiceClient } from '@wallet/contracts/webhook';
import { createGrpcClient, createLogger } from '@wallet/platform';
import { brokers, createTestDatabase, createTopics, TestProducer, uniqueName, type TestDatabase } from '@wallet/testkit';
import { startTestIssuer, type TestIssuer } from '../../../../test/support/test-issuer.js';
import { testClientTransport, testTlsEnv } from '../../../../test/support/pki.js';
import type { OwnerDirectory } from '../../src/clients/bank.js';
import { loadWebhookConfig } from '../../src/config.js';
import { startWebhookService, type RunningWebhookService, type WebhookOverrides } from '../../src/service.js';

export const silentLogger = createLogger('webhook-service-test', process.env.TEST_LOG_LEVEL ?? 'silent');

export interface Harness {
  service: RunningWebhookService;
  client: WebhookServiceClient;
  issuer: TestIssuer;
  owners: Map<string, string>;
  producer: TestProducer;
  topic: string;
  db: TestDatabase;
  /** Publishes events as the bank's outbox does (key = account id). */
  publish(events: Array<Record<string, unknown> & { accountId: string; eventType: string }>): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(env: Record<string, string> = {}, overrides: WebhookOverrides = {}): Promise<Harness> {
  const db = await createTestDatabase('webhooks');
  const issuer = await startTestIssuer();
  const topic = uniqueName('webhook-ops');
  await createTopics([{ name: topic, partitions: 3 }]);
  const owners = new Map<string, string>();
  const directory: OwnerDirectory = {
    owners: async (ids) => new Map(ids.flatMap((id) => (owners.has(id) ? [[id, owners.get(id)!] as [string, string]] : []))),
    close: () => {},
  };
  const config = loadWebhookConfig({
    ...(await testTlsEnv('webhook-service')),
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: db.url,
    KAFKA_BROKERS: brokers().join(','),
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    WEBHOOK_GRPC_PORT: '0',
    WEBHOOK_OPS_PORT: '0',
    WEBHOOK_ALLOW_LOOPBACK_URLS: 'true',
    WEBHOOK_KAFKA_OPERATIONS_TOPIC: topic,
    WEBHOOK_KAFKA_GROUP_ID: uniqueName('webhook-group'),
    // Long: a loaded test machine must not cost a rebalance mid-test.
    WEBHOOK_KAFKA_SESSION_TIMEOUT_MS: '30000',
    WEBHOOK_RETRY_DELAY_MS_MIN: '50',
    WEBHOOK_RETRY_DELAY_MS_MAX: '200',
    WEBHOOK_DISPATCH_INTERVAL_MS: '20',
    WEBHOOK_DELIVERY_TIMEOUT_MS: '2000',
    ...env,
  });
  const service = await startWebhookService(config, silentLogger, { owners: directory, ...overrides });
  const client = createGrpcClient(WebhookServiceClient, `127.0.0.1:${service.grpc.port}`, await testClientTransport('webhook-service'));
  const producer = new TestProducer();
  return {
    service,
    client,
    issuer,
    owners,
    producer,
    topic,
    db,
    publish: (events) => producer.send(topic, events.map((event) => ({ key: event.accountId, value: JSON.stringify(event) }))),
    close: async () => {
      client.close();
      await producer.close();
      await service.stop();
      await issuer.close();
      await db.drop();
    },
  };
}

/** A transfer_out event of the account, as the bank publishes it. */
export function transferEvent(accountId: string, overrides: Record<string, unknown> = {}) {
  return {
    eventId: randomUUID(),
    eventType: 'transfer_out',
    schemaVersion: 1,
    occurredAt: new Date().toISOString(),
    accountId,
    counterpartyAccountId: randomUUID(),
    transferId: randomUUID(),
    amount: '1.00',
    currency: 'USD',
    ...overrides,
  };
}
