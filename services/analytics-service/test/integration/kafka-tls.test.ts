// Kafka over TLS with the platform's settings (kafkaSecurityShape ->
// kafkaConnectionOptions): a private Kafka 4 broker with an SSL listener
// (PEM stores from the run's test PKI, client certificates required). The
// bank's side (a producer with the bank-service certificate) publishes, the
// analytics-service consumes and serves the event, both verifying the broker
// against the test CA and its address (verify-full). A plaintext client, a
// client that trusts another CA, and one without a client certificate are refused.
// SASL PLAIN over TLS: the password (from its _FILE) authenticates, a wrong one is refused.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka';
import { kafkaConnectionOptions, kafkaSecretSpecs, kafkaSecurityShape, loadConfig, loadConfigWithSecrets, type KafkaConnectionOptions } from '@wallet/platform';
import { freePort, uniqueName, waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ensureKafka, ensureTopics } from '../../../../scripts/lib/kafka.mjs';
import { createCa, issueServiceCertificate, loadCa } from '../../../../scripts/lib/pki.mjs';
import { testPki, testTlsEnv, type ServiceName } from '../../../../test/support/pki.js';
import { at, topUpEvent } from '../support/events.js';
import { analyticsClient, removeChdbPath, startInProcess, tempChdbPath } from '../support/service.js';

const REFUSAL_TIMEOUT_MS = 5_000;
const SASL_USER = 'analytics-service';
const SASL_PASSWORD = randomUUID();
const topic = uniqueName('analytics-tls');
const chdbPath = tempChdbPath('kafka-tls');
const securitySchema = z.object(kafkaSecurityShape);

let workDir: string;
let kafka: Awaited<ReturnType<typeof ensureKafka>> | undefined;
let sslBroker: string;
let saslBroker: string;
let caFile: string;

/** Kafka TLS variables of a service: its own certificate, the test CA for the broker. */
async function kafkaTlsEnv(service: ServiceName): Promise<Record<string, string>> {
  const tls = await testTlsEnv(service);
  return { KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: tls.TLS_CA_FILE, KAFKA_TLS_CERT_FILE: tls.TLS_CERT_FILE, KAFKA_TLS_KEY_FILE: tls.TLS_KEY_FILE };
}

function connectionFor(vars: Record<string, string>): KafkaConnectionOptions {
  return kafkaConnectionOptions(loadConfig(securitySchema, vars), [sslBroker]);
}

/** Every message and code in an error and its causes (the client nests them). */
function errorText(error: unknown, depth = 0): string {
  if (depth > 6 || typeof error !== 'object' || error === null) return String(error);
  const { message, code, cause, errors } = error as { message?: string; code?: string; cause?: unknown; errors?: unknown };
  const inner = [cause, ...(Array.isArray(errors) ? errors : [])].filter((e) => e !== undefined).map((e) => errorText(e, depth + 1));
  return [code, message, ...inner].filter(Boolean).join(' | ');
}

/** What a metadata request over `connection` to the SSL listener fails with (throws if it succeeds). */
async function refusal(connection: KafkaConnectionOptions, broker = sslBroker): Promise<string> {
  const admin = new Admin({ clientId: 'tls-refusal', bootstrapBrokers: [broker], timeout: REFUSAL_TIMEOUT_MS, connectTimeout: REFUSAL_TIMEOUT_MS, retries: 0, ...connection });
  try {
    await admin.metadata({ topics: [] });
  } catch (error) {
    return errorText(error);
  } finally {
    await admin.close().catch(() => {});
  }
  throw new Error('the broker answered');
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), 'analytics-kafka-tls-'));
  const pki = await testPki();
  caFile = pki.caFile;
  const ca = await loadCa(readFileSync(pki.caFile, 'utf8'), readFileSync(pki.caKeyFile, 'utf8'));
  // SANs: kafka, localhost, 127.0.0.1, ::1: the clients dial 127.0.0.1 and check it.
  const broker = await issueServiceCertificate(ca, 'kafka', { clientAuth: false });
  const sslPort = await freePort();
  const saslPort = await freePort();
  kafka = await ensureKafka({
    dataDir: join(workDir, 'kafka'),
    port: await freePort(),
    controllerPort: await freePort(),
    useEnv: false,
    ssl: { port: sslPort, certPem: broker.certPem, keyPem: broker.keyPem, caPem: readFileSync(pki.caFile, 'utf8'), clientAuth: 'required', saslPort, saslPlainUsers: { [SASL_USER]: SASL_PASSWORD } },
  });
  sslBroker = `127.0.0.1:${sslPort}`;
  saslBroker = `127.0.0.1:${saslPort}`;
  // Topics through the plaintext listener (infrastructure; the clients under test use only SSL).
  await ensureTopics(kafka.brokers, [
    { name: topic, partitions: 1 },
    { name: `${topic}.dlq`, partitions: 1 },
  ]);
}, 420_000);

afterAll(async () => {
  await kafka?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  removeChdbPath(chdbPath);
});

describe('Kafka over TLS (verify-full against the test CA, client certificates)', { timeout: 180_000 }, () => {
  it('a producer with the bank-service certificate publishes and the analytics-service consumes and serves the event', async () => {
    const producer = new Producer({
      clientId: 'bank-service-tls-test',
      bootstrapBrokers: [sslBroker],
      serializers: stringSerializers,
      idempotent: true,
      acks: ProduceAcks.ALL,
      timeout: 10_000,
      retries: 2,
      ...connectionFor(await kafkaTlsEnv('bank-service')),
    });
    const accountId = randomUUID();
    const event = topUpEvent({ accountId, amount: '12.34', occurredAt: at('2025-09-01T00:00:00Z', 0) });
    try {
      await producer.send({ messages: [{ topic, key: accountId, value: JSON.stringify(event), headers: { eventType: event.eventType } }] });
    } finally {
      await producer.close();
    }

    const app = await startInProcess({
      KAFKA_BROKERS: sslBroker,
      ...(await kafkaTlsEnv('analytics-service')),
      ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
      ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
      ANALYTICS_KAFKA_GROUP_ID: uniqueName('analytics-tls'),
      ANALYTICS_KAFKA_STATIC_MEMBERSHIP: 'false',
      ANALYTICS_CHDB_PATH: chdbPath,
    });
    const client = analyticsClient(app.grpcPort);
    try {
      expect(app.config.kafkaConnection.tls).toBeDefined();
      const operations = await waitFor(
        async () => {
          const page = await client.getOperations({ accountId });
          return page.operations.length > 0 ? page.operations : undefined;
        },
        { what: 'the event consumed over TLS', timeoutMs: 120_000 },
      );
      expect(operations.map((op) => op.id)).toEqual([event.eventId]);
      expect(await app.consumer.brokerReachable()).toBe(true);
    } finally {
      client.close();
      await app.stop();
    }
  });

  it('refuses a plaintext client on the SSL listener', async () => {
    // The broker reads the request as a broken TLS record and closes the connection.
    expect(await refusal({})).toMatch(/Connection closed/);
  });

  it('refuses to talk to the broker when the client trusts another CA (the broker certificate is verified)', async () => {
    const rogueCaFile = join(workDir, 'rogue-ca.pem');
    writeFileSync(rogueCaFile, (await createCa({ name: 'rogue CA' })).certPem);
    // A valid client certificate: only the client's check of the broker can fail.
    const env = { ...(await kafkaTlsEnv('analytics-service')), KAFKA_TLS_CA_FILE: rogueCaFile };
    expect(await refusal(connectionFor(env))).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify|self.signed/i);
  });

  it('refuses a TLS client without a client certificate (ssl.client.auth=required)', async () => {
    // TLS 1.3: the client's side of the handshake completes, then the broker refuses and closes.
    expect(await refusal(connectionFor({ KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: caFile }))).toMatch(/Connection closed/);
  });
});

describe('Kafka SASL PLAIN over TLS (SASL_SSL listener, no client certificate)', { timeout: 120_000 }, () => {
  it('authenticates with the password from KAFKA_SASL_PASSWORD_FILE and refuses a wrong one', async () => {
    const passwordFile = join(workDir, 'kafka-sasl-password');
    writeFileSync(passwordFile, `${SASL_PASSWORD}\n`, { mode: 0o600 });
    const vars = { KAFKA_TLS: 'true', KAFKA_TLS_CA_FILE: caFile, KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: SASL_USER };
    const config = loadConfigWithSecrets(securitySchema, kafkaSecretSpecs, { ...vars, KAFKA_SASL_PASSWORD_FILE: passwordFile });
    const admin = new Admin({ clientId: 'sasl-test', bootstrapBrokers: [saslBroker], timeout: 10_000, retries: 1, ...kafkaConnectionOptions(config, [saslBroker]) });
    try {
      const metadata = await admin.metadata({ topics: [topic] });
      expect([...metadata.brokers.values()].map((b) => b.port)).toEqual([Number(saslBroker.split(':')[1])]);
    } finally {
      await admin.close();
    }
    const wrong = kafkaConnectionOptions(loadConfig(securitySchema, { ...vars, KAFKA_SASL_PASSWORD: 'not-the-password' }), [saslBroker]);
    const refused = await refusal(wrong, saslBroker);
    expect(refused).toMatch(/SASL|authentication|Invalid username or password/i);
    expect(refused).not.toContain('not-the-password');
  });
});
