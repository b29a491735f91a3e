// Starts the real system as separate processes (built dist/main.js of each
// service) against the test PostgreSQL / Kafka, on free loopback ports, and
// talks to it only over REST.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractPaths } from '@wallet/contracts';
import {
  createOpenApiResponseValidator,
  createTestDatabase,
  createTopics,
  freePort,
  startService,
  waitForHttpOk,
  type ServiceProcess,
  type TestDatabase,
} from '@wallet/testkit';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const mainOf = (service: string) => join(root, 'services', service, 'dist', 'main.js');

export interface SystemOptions {
  /** Which services to start besides bank-service and api-gateway. */
  analytics?: boolean;
  cardAdapter?: boolean;
  /** Kafka bootstrap servers (default: KAFKA_BROKERS of the test run). */
  kafkaBrokers?: string;
  /** Extra env per service. */
  env?: Partial<Record<'bank' | 'gateway' | 'analytics' | 'cardAdapter', Record<string, string>>>;
}

export interface RunningSystem {
  baseUrl: string;
  db: TestDatabase;
  topic: string;
  kafkaBrokers: string;
  ports: Record<string, number>;
  processes: Record<string, ServiceProcess>;
  /** Restarts one service with the same configuration (after stop or kill). */
  restart(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startSystem(options: SystemOptions = {}): Promise<RunningSystem> {
  const db = await createTestDatabase('e2e');
  const suffix = db.name.slice(-12);
  const topic = `wallet.operations.${suffix}`;
  const ports = {
    bankGrpc: await freePort(),
    bankOps: await freePort(),
    analyticsGrpc: await freePort(),
    analyticsOps: await freePort(),
    cardGrpc: await freePort(),
    cardOps: await freePort(),
    http: await freePort(),
  };
  const kafka = options.kafkaBrokers ?? process.env.KAFKA_BROKERS ?? '';
  if (kafka) {
    await createTopics(
      [
        { name: topic, partitions: 3 },
        { name: `${topic}.dlq`, partitions: 1 },
      ],
      kafka.split(','),
    );
  }
  const specs: Record<string, { service: string; env: Record<string, string>; ready: string }> = {
    bank: {
      service: 'bank-service',
      env: {
        DATABASE_URL: db.url,
        BANK_GRPC_PORT: String(ports.bankGrpc),
        BANK_OPS_PORT: String(ports.bankOps),
        KAFKA_BROKERS: kafka,
        BANK_KAFKA_OPERATIONS_TOPIC: topic,
        ...options.env?.bank,
      },
      ready: `http://127.0.0.1:${ports.bankOps}/readyz`,
    },
  };
  if (options.analytics) {
    specs.analytics = {
      service: 'analytics-service',
      env: {
        ANALYTICS_GRPC_PORT: String(ports.analyticsGrpc),
        ANALYTICS_OPS_PORT: String(ports.analyticsOps),
        KAFKA_BROKERS: kafka,
        ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
        ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
        ANALYTICS_KAFKA_GROUP_ID: `analytics-${suffix}`,
        ANALYTICS_CHDB_PATH: join(root, '.data', 'test-chdb', suffix),
        ...options.env?.analytics,
      },
      ready: `http://127.0.0.1:${ports.analyticsOps}/readyz`,
    };
  }
  if (options.cardAdapter) {
    specs.cardAdapter = {
      service: 'bank-card-adapter',
      env: {
        DATABASE_URL: db.url,
        GRPC_PORT: String(ports.cardGrpc),
        OPS_PORT: String(ports.cardOps),
        BANK_GRPC_ADDRESS: `127.0.0.1:${ports.bankGrpc}`,
        ...options.env?.cardAdapter,
      },
      ready: `http://127.0.0.1:${ports.cardOps}/readyz`,
    };
  }
  specs.gateway = {
    service: 'api-gateway',
    env: {
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: String(ports.http),
      BANK_GRPC_ADDRESS: `127.0.0.1:${ports.bankGrpc}`,
      ANALYTICS_GRPC_ADDRESS: `127.0.0.1:${ports.analyticsGrpc}`,
      CARD_ADAPTER_GRPC_ADDRESS: `127.0.0.1:${ports.cardGrpc}`,
      ...options.env?.gateway,
    },
    ready: `http://127.0.0.1:${ports.http}/healthz`,
  };

  const processes: Record<string, ServiceProcess> = {};
  const start = async (name: string) => {
    const spec = specs[name]!;
    const proc = startService(spec.service, mainOf(spec.service), spec.env);
    processes[name] = proc;
    try {
      await waitForHttpOk(spec.ready, 60_000);
    } catch (error) {
      throw new Error(`${spec.service} did not become ready: ${(error as Error).message}\n${proc.logs.slice(-30).join('\n')}`);
    }
  };
  const system: RunningSystem = {
    baseUrl: `http://127.0.0.1:${ports.http}`,
    db,
    topic,
    kafkaBrokers: kafka,
    ports,
    processes,
    restart: (name) => start(name),
    stop: async () => {
      for (const name of ['gateway', 'cardAdapter', 'analytics', 'bank']) {
        await processes[name]?.stop();
      }
      await db.drop();
    },
  };
  try {
    for (const name of Object.keys(specs)) await start(name);
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
