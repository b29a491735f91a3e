import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractPaths } from '@wallet/contracts';
import { createOpenApiResponseValidator, createTestDatabase, createTopics, type TestDatabase } from '@wallet/testkit';
import {
  createSystem,
  defaultTopics,
  describeSystem,
  freePorts,
  type Ports,
  type ServiceHandle,
  type ServiceKey,
} from '../../scripts/lib/system.mjs';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export interface SystemOptions {
  /** Which services to start besides bank-service and api-gateway. */
  analytics?: boolean;
  cardAdapter?: boolean;
  /** Kafka bootstrap servers (default: KAFKA_BROKERS of the test run). */
  kafkaBrokers?: string;
  /** Extra env per service. */
  env?: Partial<Record<ServiceKey, Record<string, string>>>;
}

export interface RunningSystem {
  baseUrl: string;
  db: TestDatabase;
  topic: string;
  kafkaBrokers: string;
  ports: Ports;
  processes: Partial<Record<ServiceKey, ServiceHandle>>;
  /** Restarts one service with the same configuration (after stop or kill). */
  restart(name: ServiceKey): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the real system as separate processes (built dist/main.js of each
 * service, launched through scripts/lib/system.mjs) against the test
 * PostgreSQL / Kafka, on free loopback ports, with a private topic, consumer
 * group and chDB folder; tests talk to it only over REST.
 */
export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
  const db = await createTestDatabase('e2e');
  const suffix = db.name.slice(-12);
  const contractTopics = await defaultTopics();
  const topics = { operations: `${contractTopics.operations}.${suffix}`, dlq: `${contractTopics.operations}.${suffix}.dlq` };
  const kafka = options.kafkaBrokers ?? process.env.KAFKA_BROKERS ?? '';
  if (kafka) {
    await createTopics(
      [
        { name: topics.operations, partitions: 3 },
        { name: topics.dlq, partitions: 1 },
      ],
      kafka.split(','),
    );
  }
  const include: ServiceKey[] = ['bank'];
  if (options.analytics) include.push('analytics');
  if (options.cardAdapter) {
    // The card adapter talks to the payment gateway mock over HTTP when it exists as its own service.
    if (existsSync(join(root, 'services', 'payment-gateway-mock', 'package.json'))) include.push('paymentGatewayMock');
    include.push('cardAdapter');
  }
  include.push('gateway');
  const description = await describeSystem({
    infraEnv: { DATABASE_URL: db.url, KAFKA_BROKERS: kafka },
    ports: await freePorts(),
    include,
    topics,
    kafkaGroupId: `analytics-${suffix}`,
    chdbPath: join(root, '.data', 'test-chdb', suffix),
    commonEnv: { NODE_ENV: 'test', LOG_LEVEL: process.env.TEST_SERVICE_LOG_LEVEL ?? 'warn' },
    env: options.env,
  });
  const run = createSystem(description, {
    readyTimeoutMs: 60_000,
    onLine: process.env.TEST_SERVICE_LOGS === '1' ? (key, line) => process.stderr.write(`[${key}] ${line}\n`) : undefined,
  });
  const system: RunningSystem = {
    baseUrl: description.baseUrl,
    db,
    topic: topics.operations,
    kafkaBrokers: kafka,
    ports: description.ports,
    processes: run.services,
    restart: async (name) => {
      await run.restart(name);
    },
    stop: async () => {
      await run.stop({ timeoutMs: 15_000 });
      await db.drop();
    },
  };
  try {
    await run.startAll();
  } catch (error) {
    await system.stop().catch(() => {});
    throw error;
  }
  return system;
}

export const ACCOUNT_A = '123e4567-e89b-12d3-a456-426614174000';
export const ACCOUNT_B = '987e6543-e21b-34d3-c456-426614174999';

const contract = createOpenApiResponseValidator(contractPaths.openapi);

/**
 * A small fetch wrapper returning status, headers and parsed JSON. Every
 * response of a route the OpenAPI document declares is checked against it
 * (status declared, content type, headers, body schema): the contract test.
 */
export async function http(
  baseUrl: string,
  method: string,
  path: string,
  options: { body?: unknown; rawBody?: string; headers?: Record<string, string> } = {},
  // The body is parsed JSON that each test asserts field by field (and the contract check validates).
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
): Promise<{ status: number; headers: Headers; body: any; contentType: string }> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  if (contract.findOperation(method, path)) {
    const headersRecord: Record<string, string> = {};
    res.headers.forEach((value, key) => {
      headersRecord[key] = value;
    });
    contract.assertValid({ method, url: path, statusCode: res.status, headers: headersRecord, body: text });
  }
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON (e.g. /metrics)
  }
  return { status: res.status, headers: res.headers, body: parsed, contentType: res.headers.get('content-type') ?? '' };
}
