import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractPaths } from '@wallet/contracts';
import { Agent, fetch as fetchWithAgent } from 'undici';
import { createOpenApiResponseValidator, createTestDatabase, createTopics, type TestDatabase } from '@wallet/testkit';
import {
  createSystem,
  defaultTopics,
  describeSystem,
  freePorts,
  freeReplicaPorts,
  type InstanceKey,
  type LoadBalancerHandle,
  type OtelOptions,
  type Ports,
  type ServiceHandle,
  type ServiceKey,
} from '../../scripts/lib/system.mjs';
import { startClickHouseServer, type ClickHouseServer } from '../../scripts/lib/clickhouse-server.mjs';
import { testPki } from '../support/pki.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

export interface SystemOptions {
  /** Which services to start besides bank-service and api-gateway. */
  analytics?: boolean;
  cardAdapter?: boolean;
  /** The webhook-service (signed deliveries from the event stream). */
  webhooks?: boolean;
  /** Kafka bootstrap servers (default: KAFKA_BROKERS of the test run). */
  kafkaBrokers?: string;
  /** Extra env per service. */
  env?: Partial<Record<ServiceKey, Record<string, string>>>;
  /** LOG_LEVEL of every service (default TEST_SERVICE_LOG_LEVEL or info: the secrets scan reads the access lines). */
  logLevel?: string;
  /** Export every service's spans to this OTLP endpoint (an in-process receiver: scripts/lib/otlp-receiver.mjs). */
  otel?: OtelOptions;
  /** Instances of each of our services behind HAProxy (default 1); analytics then shares a ClickHouse server. */
  replicas?: number;
}

export interface RunningSystem {
  baseUrl: string;
  db: TestDatabase;
  topic: string;
  kafkaBrokers: string;
  ports: Ports;
  /** Keyed by instance key (`bank`; with replicas also `bank.2`...: see instance()). */
  processes: Partial<Record<ServiceKey, ServiceHandle>>;
  /** One instance by its key (`bank.2`). */
  instance(key: InstanceKey): ServiceHandle | undefined;
  /** HAProxy (replicas > 1). */
  loadBalancer: LoadBalancerHandle | undefined;
  /** Every instance of a service, replica order. */
  instancesOf(serviceKey: ServiceKey): ServiceHandle[];
  /** The identity-service's own URL (issuer of the access tokens; discovery, JWKS). */
  issuer: string;
  audience: string;
  /** Every service's output, one file per service, kept across restarts (scanned for secrets). */
  logDir: string;
  /** The analytics-service's embedded ClickHouse (chDB) folder. */
  chdbPath: string;
  /** Restarts one service with the same configuration (after stop or kill), plus extraEnv. */
  restart(name: InstanceKey, extraEnv?: Record<string, string>): Promise<void>;
  /** Access token of a user, cached until shortly before it expires. */
  tokenFor(user: Credentials): Promise<string>;
  /** `{ authorization: 'Bearer ...' }` of a user (or a raw access token). */
  as(user: Credentials | string): Promise<Record<string, string>>;
  /** Stops every service, drops the database and fails when a secret the tests used is in a log. */
  stop(): Promise<void>;
}

/**
 * Starts the real system as separate processes (built dist/main.js of each
 * service, launched through scripts/lib/system.mjs) against the test
 * PostgreSQL / Kafka, on free loopback ports, with a private topic, consumer
 * group and chDB folder; tests talk to it only over REST, logged in as the
 * development users. Each service's output goes to a file in a temp folder
 * (TEST_SERVICE_LOGS=1 keeps it and prints where), scanned at stop() for every
 * secret the tests used.
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
  const chdbPath = join(root, '.data', 'test-chdb', suffix);
  const include: ServiceKey[] = ['identity', 'bank'];
  if (options.analytics) include.push('analytics');
  if (options.cardAdapter) {
    // The card adapter talks to the payment gateway mock over HTTP when it exists as its own service.
    if (existsSync(join(root, 'services', 'payment-gateway-mock', 'package.json'))) include.push('paymentGatewayMock');
    include.push('cardAdapter');
  }
  if (options.webhooks) include.push('webhooks');
  include.push('gateway');
  const replicas = options.replicas ?? 1;
  const ports = await freePorts();
  // Analytics replicas share one engine (chDB is one process per folder).
  const clickhouse: ClickHouseServer | undefined =
    replicas > 1 && options.analytics ? await startClickHouseServer({ dataDir: join(root, '.data', 'test-clickhouse', suffix) }) : undefined;
  const description = await describeSystem({
    infraEnv: { DATABASE_URL: db.url, KAFKA_BROKERS: kafka, ...(clickhouse ? { CLICKHOUSE_URL: clickhouse.url } : {}) },
    ports,
    replicas,
    replicaPorts: await freeReplicaPorts(ports, replicas),
    include,
    topics,
    kafkaGroupId: `analytics-${suffix}`,
    chdbPath,
    commonEnv: { NODE_ENV: 'test', LOG_LEVEL: options.logLevel ?? process.env.TEST_SERVICE_LOG_LEVEL ?? 'info' },
    env: {
      ...options.env,
      // The gateway's rate limits are off unless a test sets them (a burst of 1,000 transfers is not abuse).
      gateway: { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: '0', GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: '0', ...options.env?.gateway },
    },
    devUsers: true,
    otel: options.otel,
    // The run's PKI (TEST_PKI_DIR): every hop is mutual TLS, and a test can play a service with its certificate.
    pki: await testPki(),
    // A fresh card adapter -> payment gateway key per system (scanned for in the logs like any secret).
    paymentGatewayApiKey: randomBytes(24).toString('base64url'),
  });
  rememberSecret(description.services.find((s) => s.key === 'cardAdapter')?.env.CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY);
  const logDir = mkdtempSync(join(tmpdir(), 'wallet-e2e-logs-'));
  const run = createSystem(description, { readyTimeoutMs: 60_000, logDir });
  const tokens = new Map<string, { token: string; refreshAtMs: number }>();
  const tokenFor = async (user: Credentials): Promise<string> => {
    const cached = tokens.get(user.username);
    if (cached && cached.refreshAtMs > Date.now()) return cached.token;
    const res = await login(description.baseUrl, user);
    if (res.status !== 200) throw new Error(`login of ${user.username} answered ${res.status}: ${JSON.stringify(res.body)}`);
    const body = res.body as TokenResponse;
    // Renewed a minute before it expires (a long test file outlives a short-lived token).
    tokens.set(user.username, { token: body.access_token, refreshAtMs: Date.now() + (body.expires_in - 60) * 1000 });
    return body.access_token;
  };
  const system: RunningSystem = {
    baseUrl: description.baseUrl,
    db,
    topic: topics.operations,
    kafkaBrokers: kafka,
    ports: description.ports,
    processes: run.services as Partial<Record<ServiceKey, ServiceHandle>>,
    instance: (key) => run.services[key],
    loadBalancer: run.loadBalancer,
    instancesOf: (serviceKey) => run.instancesOf(serviceKey),
    issuer: description.issuer,
    audience: description.audience,
    logDir,
    chdbPath,
    restart: async (name, extraEnv) => {
      await run.restart(name, extraEnv);
    },
    tokenFor,
    as: async (user) => ({ authorization: `Bearer ${typeof user === 'string' ? user : await tokenFor(user)}` }),
    stop: async () => {
      await run.stop({ timeoutMs: 15_000 });
      await clickhouse?.stop();
      await db.drop();
      const leaks = secretsInLogs(logDir);
      // Kept to look at when asked (TEST_SERVICE_LOGS=1) or when they leaked a secret.
      if (process.env.TEST_SERVICE_LOGS === '1' || leaks.length > 0) process.stderr.write(`service logs kept in ${logDir}\n`);
      else rmSync(logDir, { recursive: true, force: true });
      if (leaks.length > 0) throw new Error(`secrets in the service logs (${logDir}): ${leaks.join('; ')}`);
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

/** Alice's seed account (USD). */
export const ACCOUNT_A = '123e4567-e89b-12d3-a456-426614174000';
/** Bob's seed account (USD). */
export const ACCOUNT_B = '987e6543-e21b-34d3-c456-426614174999';

export interface Credentials {
  username: string;
  password: string;
}
export interface DevUser extends Credentials {
  userId: string;
  role: 'customer' | 'support' | 'admin';
}

/** The development users the identity-service seeds (IDENTITY_SEED_DEV_USERS=true; README "Log in"). */
export const ALICE: DevUser = { username: 'alice', password: 'alice-wallet-demo-pw', userId: '11111111-1111-4111-8111-111111111111', role: 'customer' };
export const BOB: DevUser = { username: 'bob', password: 'bob-wallet-demo-pw', userId: '22222222-2222-4222-8222-222222222222', role: 'customer' };
export const SUPPORT: DevUser = { username: 'support', password: 'support-wallet-demo-pw', userId: '33333333-3333-4333-8333-333333333333', role: 'support' };
export const ADMIN: DevUser = { username: 'admin', password: 'admin-wallet-demo-pw', userId: '44444444-4444-4444-8444-444444444444', role: 'admin' };
/** The development back-office client (client credentials). */
export const BACK_OFFICE = { clientId: 'dev-back-office', clientSecret: 'dev-back-office-secret-demo' };

export interface TokenResponse {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
  scope?: string;
}

/**
 * Every password, token and client secret the tests sent or received: after
 * the run none may appear in any service's log (issue 10).
 */
const usedSecrets = new Set<string>([ALICE.password, BOB.password, SUPPORT.password, ADMIN.password, BACK_OFFICE.clientSecret]);

/** Adds a secret to the scan (a JWT also by its signature alone: a truncated token in a log is a leak too). */
export function rememberSecret(secret: string | undefined): void {
  if (!secret) return;
  usedSecrets.add(secret);
  const parts = secret.split('.');
  if (parts.length === 3 && parts[2]!.length >= 32) usedSecrets.add(parts[2]!);
}

/** Which of the secrets the tests used appear in `text` (described, never the secret itself). */
export function secretsInText(source: string, text: string): string[] {
  const leaks: string[] = [];
  for (const secret of usedSecrets) {
    if (text.includes(secret)) leaks.push(`${source}: a secret of ${secret.length} characters starting ${JSON.stringify(secret.slice(0, 3))}`);
  }
  return leaks;
}

/** Which kinds of secret appear in which log file (never the secret itself). */
export function secretsInLogs(logDir: string): string[] {
  return readdirSync(logDir).flatMap((file) => secretsInText(file, readFileSync(join(logDir, file), 'utf8')));
}

/** POST /auth/token (form-encoded) through the gateway; the answer's tokens are remembered for the log scan. */
export async function tokenRequest(baseUrl: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  for (const key of ['password', 'client_secret', 'refresh_token']) rememberSecret(form[key]);
  const res = await http(baseUrl, 'POST', '/auth/token', {
    rawBody: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
  });
  if (res.body && typeof res.body === 'object') {
    rememberSecret((res.body as Partial<TokenResponse>).access_token);
    rememberSecret((res.body as Partial<TokenResponse>).refresh_token);
  }
  return res;
}

/** The password grant. */
export const login = (baseUrl: string, user: Credentials) =>
  tokenRequest(baseUrl, { grant_type: 'password', username: user.username, password: user.password });

const contract = createOpenApiResponseValidator(contractPaths.openapi);

let runCaAgent: Agent | undefined;
/** An HTTPS client that trusts the run's development CA (and checks host names as usual). */
async function trustingRunCa(): Promise<Agent> {
  runCaAgent ??= new Agent({ connect: { ca: readFileSync((await testPki()).caFile) } });
  return runCaAgent;
}

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
  const init = { method, headers, body, signal: AbortSignal.timeout(20_000) };
  // The identity-service serves HTTPS with its certificate of the run's CA.
  const res = baseUrl.startsWith('https:')
    ? ((await fetchWithAgent(`${baseUrl}${path}`, { ...init, dispatcher: await trustingRunCa() })) as unknown as Response)
    : await fetch(`${baseUrl}${path}`, init);
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
