// The one description of the wallet as a set of processes: which services
// exist, their entry files, the ports they listen on, the environment each
// needs (every variable NAME a launcher passes lives here and only here), their
// readiness URLs and their start order. `npm start`, the end-to-end harness,
// the bench and the chaos suite all launch through this module.
// Every service gets its own certificate of the development PKI (TLS_CA_FILE,
// TLS_CERT_FILE, TLS_KEY_FILE: mutual TLS on every internal hop, ADR 0009).
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { HAPROXY_LIMITS } from './haproxy.mjs';
import { freePort } from './infra.mjs';
import { root } from './paths.mjs';
import { ensurePki, PKI_DIR_DEFAULT, tlsEnvFor } from './pki.mjs';
import { createSystem } from './system-run.mjs';

export { createSystem, waitReady } from './system-run.mjs';

/** Ports of a default local run (README, compose and each service's config defaults agree). */
export const DEFAULT_PORTS = Object.freeze({
  gatewayHttp: 8080,
  gatewayOps: 9100,
  bankGrpc: 50051,
  cardAdapterGrpc: 50052,
  analyticsGrpc: 50053,
  bankOps: 9101,
  cardAdapterOps: 9102,
  analyticsOps: 9103,
  paymentGatewayMockHttp: 9104,
  paymentGatewayMockOps: 9106,
  identityHttp: 8090,
  identityOps: 9105,
  postgres: 5432,
  kafka: 9092,
  kafkaController: 9093,
  // HAProxy's stats, health and Prometheus listener (replicated runs only; 8404 is HAProxy's customary stats port).
  lbStats: 8404,
  webhookGrpc: 50054,
  webhookOps: 9107,
});

/** With a port base B (`--port-base`), every port is B + its offset: many runs side by side. */
const PORT_OFFSETS = Object.freeze({
  gatewayHttp: 0,
  bankGrpc: 1,
  cardAdapterGrpc: 2,
  analyticsGrpc: 3,
  paymentGatewayMockHttp: 4,
  bankOps: 5,
  cardAdapterOps: 6,
  analyticsOps: 7,
  identityHttp: 8,
  identityOps: 9,
  postgres: 10,
  kafka: 11,
  kafkaController: 12,
  gatewayOps: 13,
  paymentGatewayMockOps: 14,
  lbStats: 15,
  webhookGrpc: 16,
  webhookOps: 17,
});

/** What listens on each port, for error messages. */
export const PORT_LABELS = Object.freeze({
  gatewayHttp: 'api-gateway REST',
  gatewayOps: 'api-gateway ops (NODE_ENV=production: /readyz detail, /metrics)',
  bankGrpc: 'bank-service gRPC',
  cardAdapterGrpc: 'bank-card-adapter gRPC',
  analyticsGrpc: 'analytics-service gRPC',
  paymentGatewayMockHttp: 'payment-gateway-mock HTTPS (mutual TLS)',
  paymentGatewayMockOps: 'payment-gateway-mock ops (/readyz, /metrics)',
  bankOps: 'bank-service ops (/readyz, /metrics)',
  cardAdapterOps: 'bank-card-adapter ops (/readyz, /metrics)',
  analyticsOps: 'analytics-service ops (/readyz, /metrics)',
  identityHttp: 'identity-service HTTP (token endpoint)',
  identityOps: 'identity-service ops (/readyz, /metrics)',
  postgres: 'PostgreSQL',
  kafka: 'Kafka broker',
  kafkaController: 'Kafka controller',
  lbStats: 'HAProxy stats (/stats, /metrics, /healthz; with --replicas > 1)',
  webhookGrpc: 'webhook-service gRPC',
  webhookOps: 'webhook-service ops (/readyz, /metrics)',
});

export const PORT_BASE_MIN = 1024;
export const PORT_BASE_MAX = 65_535 - 20;
const PORT_MAX = 65_535;

/** The ports of one run: defaults, or base + offset. */
export function portsFor({ base } = {}) {
  if (base === undefined) return { ...DEFAULT_PORTS };
  if (!Number.isInteger(base) || base < PORT_BASE_MIN || base > PORT_BASE_MAX) {
    throw new Error(`port base must be an integer ${PORT_BASE_MIN}-${PORT_BASE_MAX}, got ${base}`);
  }
  return Object.fromEntries(Object.entries(PORT_OFFSETS).map(([name, offset]) => [name, base + offset]));
}

/** Every port on a free loopback port (tests, bench). */
export async function freePorts() {
  const ports = {};
  const taken = new Set();
  for (const name of Object.keys(DEFAULT_PORTS)) {
    // The kernel may hand a just-closed port out again: keep them distinct.
    let port = await freePort();
    for (let attempt = 0; taken.has(port) && attempt < 20; attempt += 1) port = await freePort();
    taken.add(port);
    ports[name] = port;
  }
  return ports;
}

/** Replicas per service of a local run (`--replicas`, WALLET_REPLICAS): 2 cores carry little more than 8. */
/** V8 heap flags of bank-service (its memory bound, services/bank-service/README.md "Memory"). */
export const BANK_NODE_HEAP_OPTIONS = '--max-old-space-size=256';

export const REPLICAS_MIN = 1;
export const REPLICAS_MAX = 8;
/** Our services; the payment gateway mock stands for one external provider and stays one. */
export const REPLICATED_SERVICE_KEYS = Object.freeze(['identity', 'bank', 'analytics', 'cardAdapter', 'gateway']);
/** Instance r of a replicated service listens on each of its ports + stride x (r - 1) (> the 18 offsets of a port base). */
export const REPLICA_PORT_STRIDE = 20;
/** The ports of one instance of a replicated service. */
const REPLICATED_PORT_NAMES = Object.freeze([
  'gatewayHttp', 'gatewayOps', 'bankGrpc', 'bankOps', 'cardAdapterGrpc', 'cardAdapterOps',
  'analyticsGrpc', 'analyticsOps', 'identityHttp', 'identityOps',
]);
/** With replicas, HAProxy owns these (the URLs clients know); instance r then listens on port + stride x r. */
const LOAD_BALANCED_PORT_NAMES = Object.freeze(['gatewayHttp', 'identityHttp']);

/** A replica count from a flag or variable (1..8); throws a one-line message naming the source. */
export function parseReplicas(value, source = '--replicas') {
  if (value === undefined || value === '') return REPLICAS_MIN;
  const replicas = typeof value === 'number' ? value : /^\d+$/.test(String(value).trim()) ? Number(value) : Number.NaN;
  if (!Number.isInteger(replicas) || replicas < REPLICAS_MIN || replicas > REPLICAS_MAX) {
    throw new Error(`${source} must be an integer ${REPLICAS_MIN}-${REPLICAS_MAX}, got "${value}"`);
  }
  return replicas;
}

/** `bank` for replica 1 (so one replica is today's system), `bank.2`, `bank.3`... for the others. */
export const instanceKey = (serviceKey, replica) => (replica === 1 ? serviceKey : `${serviceKey}.${replica}`);

/** The ports of every instance (index r - 1) by the stride rule: the default and port-base layouts. */
export function replicaPortsFor(ports, replicas) {
  parseReplicas(replicas, 'replicas');
  return Array.from({ length: replicas }, (_, index) => {
    const shifted = { ...ports };
    for (const name of REPLICATED_PORT_NAMES) {
      const steps = replicas > 1 && LOAD_BALANCED_PORT_NAMES.includes(name) ? index + 1 : index;
      shifted[name] = ports[name] + REPLICA_PORT_STRIDE * steps;
      if (shifted[name] > PORT_MAX) {
        throw new Error(`${replicas} replicas need port ${shifted[name]} (${PORT_LABELS[name]}, replica ${index + 1}): use a lower --port-base`);
      }
    }
    return shifted;
  });
}

/** Free loopback ports for every instance (tests, chaos); replica 1 keeps `ports` except the load-balanced two. */
export async function freeReplicaPorts(ports, replicas) {
  parseReplicas(replicas, 'replicas');
  if (replicas === 1) return [{ ...ports }];
  const taken = new Set(Object.values(ports));
  const fresh = async () => {
    let port = await freePort();
    for (let attempt = 0; taken.has(port) && attempt < 20; attempt += 1) port = await freePort();
    taken.add(port);
    return port;
  };
  const all = [];
  for (let index = 0; index < replicas; index += 1) {
    const instance = { ...ports };
    for (const name of REPLICATED_PORT_NAMES) {
      if (index > 0 || LOAD_BALANCED_PORT_NAMES.includes(name)) instance[name] = await fresh();
    }
    all.push(instance);
  }
  return all;
}

const local = (port) => `127.0.0.1:${port}`;

/** A draining gateway keeps serving this long: HAProxy's fall checks, one interval spare (haproxy.mjs). */
const LB_DRAIN_MS = HAPROXY_LIMITS.checkIntervalMs * (HAPROXY_LIMITS.checkFallCount + 1);

/** `aud` of access tokens (the identity-service's IDENTITY_AUDIENCE default). */
export const AUTH_AUDIENCE = 'wallet-api';
/**
 * The identity-service serves HTTPS with its certificate when given the TLS
 * files; its issuer URL (AUTH_ISSUER, GATEWAY_IDENTITY_URL) is then https://.
 */
export const IDENTITY_HTTPS = true;
/** The payment gateway mock requires mutual TLS (only bank-card-adapter's certificate); its URL is https://. */
export const PAYMENT_GATEWAY_MOCK_HTTPS = true;

/** Token verification settings of every service that checks access tokens (shared, unprefixed names). */
const authEnv = (c) => ({ AUTH_ISSUER: c.issuer, AUTH_AUDIENCE: AUTH_AUDIENCE });

/**
 * The services in start order. `env(ctx)` returns the variables a launcher
 * sets; each service's src/config.ts documents them and their defaults.
 * `optional` services run only when their workspace exists.
 */
const SERVICES = [
  {
    // First: every other service verifies tokens against its discovery document
    // (fetched lazily, but a ready issuer avoids 503s right after start).
    key: 'identity',
    name: 'identity-service',
    dependsOn: [],
    ports: { http: 'identityHttp', ops: 'identityOps' },
    env: (c) => ({
      DATABASE_URL: c.infra.DATABASE_URL,
      IDENTITY_HTTP_PORT: String(c.ports.identityHttp),
      IDENTITY_OPS_PORT: String(c.ports.identityOps),
      IDENTITY_ISSUER: c.issuer,
      IDENTITY_AUDIENCE: AUTH_AUDIENCE,
      // Local runs only (start, tests, bench, chaos); the compose production profile never seeds.
      IDENTITY_SEED_DEV_USERS: String(c.devUsers),
      // The web app's PKCE redirect URIs on this run's public gateway port (matched exactly).
      IDENTITY_WEB_REDIRECT_URIS: c.webRedirectUris,
      ...tlsEnvFor(c.pki, 'identity-service'),
    }),
  },
  {
    key: 'bank',
    name: 'bank-service',
    dependsOn: ['identity'],
    ports: { grpc: 'bankGrpc', ops: 'bankOps' },
    env: (c) => ({
      DATABASE_URL: c.infra.DATABASE_URL,
      KAFKA_BROKERS: c.infra.KAFKA_BROKERS,
      BANK_GRPC_PORT: String(c.ports.bankGrpc),
      BANK_OPS_PORT: String(c.ports.bankOps),
      BANK_KAFKA_OPERATIONS_TOPIC: c.topics.operations,
      // The bank's documented memory bound (services/bank-service/README.md "Memory"): a heap limit
      // below 2 GiB also lowers V8's heap growth factor from 4x to ~1.3x of the live heap.
      NODE_OPTIONS: [process.env.NODE_OPTIONS, BANK_NODE_HEAP_OPTIONS].filter(Boolean).join(' '),
      // Replicated runs only: names the replica in application_name and logs (who leads the relay).
      ...(c.replicas > 1 ? { BANK_REPLICA_ID: String(c.replica) } : {}),
      ...authEnv(c),
      ...tlsEnvFor(c.pki, 'bank-service'),
    }),
  },
  {
    key: 'paymentGatewayMock',
    name: 'payment-gateway-mock',
    optional: true,
    dependsOn: [],
    ports: { http: 'paymentGatewayMockHttp', ops: 'paymentGatewayMockOps' },
    env: (c) => ({
      DATABASE_URL: c.infra.DATABASE_URL,
      PAYMENT_GATEWAY_MOCK_HTTP_PORT: String(c.ports.paymentGatewayMockHttp),
      PAYMENT_GATEWAY_MOCK_OPS_PORT: String(c.ports.paymentGatewayMockOps),
      ...(c.paymentGatewayApiKey ? { PAYMENT_GATEWAY_MOCK_API_KEY: c.paymentGatewayApiKey } : {}),
      ...tlsEnvFor(c.pki, 'payment-gateway-mock'),
    }),
  },
  {
    key: 'analytics',
    name: 'analytics-service',
    dependsOn: ['identity'],
    ports: { grpc: 'analyticsGrpc', ops: 'analyticsOps' },
    env: (c) => ({
      ...authEnv(c),
      KAFKA_BROKERS: c.infra.KAFKA_BROKERS,
      ...(c.infra.CLICKHOUSE_URL ? { CLICKHOUSE_URL: c.infra.CLICKHOUSE_URL } : {}),
      ANALYTICS_GRPC_PORT: String(c.ports.analyticsGrpc),
      ANALYTICS_OPS_PORT: String(c.ports.analyticsOps),
      ANALYTICS_KAFKA_OPERATIONS_TOPIC: c.topics.operations,
      ANALYTICS_KAFKA_DLQ_TOPIC: c.topics.dlq,
      ...(c.kafkaGroupId ? { ANALYTICS_KAFKA_GROUP_ID: c.kafkaGroupId } : {}),
      // Static membership: one member id per replica (a restarted replica gets its partitions back at once).
      ...(c.replicas > 1 ? { ANALYTICS_KAFKA_GROUP_INSTANCE_ID: `analytics-service-${c.replica}` } : {}),
      ...(c.chdbPath ? { ANALYTICS_CHDB_PATH: c.chdbPath } : {}),
      ...(c.clickhouseRequestTimeoutMs ? { ANALYTICS_CLICKHOUSE_REQUEST_TIMEOUT_MS: String(c.clickhouseRequestTimeoutMs) } : {}),
      // The history cross-check reads the ledger's totals (GetLedgerTotals, mTLS as analytics-service).
      ANALYTICS_BANK_GRPC_ADDRESS: c.grpcAddresses.bank,
      ...tlsEnvFor(c.pki, 'analytics-service'),
    }),
  },
  {
    key: 'cardAdapter',
    name: 'bank-card-adapter',
    dependsOn: ['identity', 'bank', 'paymentGatewayMock'],
    ports: { grpc: 'cardAdapterGrpc', ops: 'cardAdapterOps' },
    env: (c) => ({
      DATABASE_URL: c.infra.DATABASE_URL,
      CARD_ADAPTER_GRPC_PORT: String(c.ports.cardAdapterGrpc),
      CARD_ADAPTER_OPS_PORT: String(c.ports.cardAdapterOps),
      CARD_ADAPTER_BANK_GRPC_ADDRESS: c.grpcAddresses.bank,
      ...authEnv(c),
      ...(c.included.has('paymentGatewayMock') ? { CARD_ADAPTER_PAYMENT_GATEWAY_URL: c.paymentGatewayMockUrl } : {}),
      ...(c.paymentGatewayApiKey ? { CARD_ADAPTER_PAYMENT_GATEWAY_API_KEY: c.paymentGatewayApiKey } : {}),
      ...tlsEnvFor(c.pki, 'bank-card-adapter'),
    }),
  },
  {
    // Signed webhook deliveries from the wallet.operations stream (issue 15); one instance (not
    // replicated). The gateway does not wait for it: its /readyz does not depend on it.
    key: 'webhooks',
    name: 'webhook-service',
    optional: true,
    dependsOn: ['identity', 'bank'],
    ports: { grpc: 'webhookGrpc', ops: 'webhookOps' },
    env: (c) => ({
      DATABASE_URL: c.infra.DATABASE_URL,
      KAFKA_BROKERS: c.infra.KAFKA_BROKERS,
      WEBHOOK_GRPC_PORT: String(c.ports.webhookGrpc),
      WEBHOOK_OPS_PORT: String(c.ports.webhookOps),
      WEBHOOK_KAFKA_OPERATIONS_TOPIC: c.topics.operations,
      WEBHOOK_BANK_GRPC_ADDRESS: c.grpcAddresses.bank,
      // Local runs (npm start, e2e, bench, chaos): receivers on 127.0.0.1 are allowed; production refuses it.
      WEBHOOK_ALLOW_LOOPBACK_URLS: 'true',
      ...authEnv(c),
      ...tlsEnvFor(c.pki, 'webhook-service'),
    }),
  },
  {
    key: 'gateway',
    name: 'api-gateway',
    dependsOn: ['identity', 'bank', 'cardAdapter', 'analytics'],
    ports: { http: 'gatewayHttp', ops: 'gatewayHttp' },
    env: (c) => ({
      GATEWAY_HTTP_HOST: '127.0.0.1',
      GATEWAY_HTTP_PORT: String(c.ports.gatewayHttp),
      // Bound only with NODE_ENV=production (/metrics and /readyz detail off the public port).
      GATEWAY_OPS_PORT: String(c.ports.gatewayOps),
      // Every replica of each backend (one address with one replica): balanced client-side (round_robin).
      GATEWAY_BANK_GRPC_ADDRESS: c.grpcAddresses.bank,
      GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: c.grpcAddresses.cardAdapter,
      GATEWAY_ANALYTICS_GRPC_ADDRESS: c.grpcAddresses.analytics,
      GATEWAY_WEBHOOK_GRPC_ADDRESS: c.grpcAddresses.webhooks,
      GATEWAY_IDENTITY_URL: c.issuer,
      GATEWAY_SYSTEM_OPS_URLS: c.systemOpsUrls,
      // On SIGTERM /readyz answers 503 while still serving until HAProxy's checks take it out
      // (scripts/lib/haproxy.mjs: ~1 s); with one replica nothing would notice: stop at once.
      GATEWAY_DRAIN_MS: String(c.replicas > 1 ? LB_DRAIN_MS : 0),
      ...authEnv(c),
      ...tlsEnvFor(c.pki, 'api-gateway'),
    }),
  },
];

/** Entry file (built) of a service. */
export const entryOf = (name) => join(root, 'services', name, 'dist', 'main.js');
const workspaceExists = (name) => existsSync(join(root, 'services', name, 'package.json'));

/** [service key, service name, ops port name] of every service whose ops endpoints the console reads. */
const OPS_PORT_NAMES = [
  ['identity', 'identity-service', 'identityOps'],
  ['bank', 'bank-service', 'bankOps'],
  ['cardAdapter', 'bank-card-adapter', 'cardAdapterOps'],
  ['analytics', 'analytics-service', 'analyticsOps'],
  ['paymentGatewayMock', 'payment-gateway-mock', 'paymentGatewayMockOps'],
  ['webhooks', 'webhook-service', 'webhookOps'],
];

/** Service keys, in start order. */
export const SERVICE_KEYS = SERVICES.map((s) => s.key);
/** Service key -> workspace name. */
export const SERVICE_NAMES = Object.freeze(Object.fromEntries(SERVICES.map((s) => [s.key, s.name])));

/** Kafka topics of the system; names come from @wallet/contracts (loaded lazily: built on first `tsc -b`). */
export async function defaultTopics() {
  const { OPERATIONS_TOPIC, OPERATIONS_DLQ_TOPIC } = await import('@wallet/contracts');
  return { operations: OPERATIONS_TOPIC, dlq: OPERATIONS_DLQ_TOPIC };
}

/**
 * @param {{
 *   infraEnv: { DATABASE_URL: string, KAFKA_BROKERS: string, CLICKHOUSE_URL?: string },
 *   ports: Record<string, number>,
 *   include?: string[],            // service keys (default: all; optional ones when present)
 *   topics?: { operations: string, dlq: string },
 *   kafkaGroupId?: string, chdbPath?: string, clickhouseRequestTimeoutMs?: number,
 *   devUsers?: boolean,                               // IDENTITY_SEED_DEV_USERS (default true: local runs)
 *   pki?: import('./pki.mjs').Pki,                    // certificates (default: ensurePki on .data/pki)
 *   paymentGatewayApiKey?: string,                    // card adapter -> mock API key (default: their dev default)
 *   commonEnv?: Record<string, string>,               // set for every service (NODE_ENV, LOG_LEVEL)
 *   otel?: { endpoint: string, protocol?: string, env?: Record<string, string> },  // trace export (otelEnvFor)
 *   env?: Record<string, Record<string, string>>,     // extra env per service key (every replica) or instance key ('bank.2')
 *   replicas?: number,                                // 1..8 instances of each of our services (default 1: no load balancer)
 *   replicaPorts?: Ports[],                           // ports of instance r at r - 1 (default replicaPortsFor(ports, replicas))
 *   serviceReplicas?: Record<string, number>,         // fewer instances of some services (1..replicas), e.g. { bank: 1 } (bench)
 * }} options
 */
export async function describeSystem(options) {
  const { infraEnv, ports } = options;
  const replicas = parseReplicas(options.replicas ?? REPLICAS_MIN, 'replicas');
  const wanted = options.include ?? SERVICES.filter((s) => !s.optional || workspaceExists(s.name)).map((s) => s.key);
  for (const key of wanted) if (!SERVICE_KEYS.includes(key)) throw new Error(`unknown service "${key}" (known: ${SERVICE_KEYS.join(', ')})`);
  const included = new Set(wanted);
  const countOf = (key) => replicaCountOf(key, replicas, options.serviceReplicas);
  if (countOf('analytics') > 1 && included.has('analytics') && !infraEnv.CLICKHOUSE_URL) {
    throw new Error('analytics with replicas > 1 needs a shared ClickHouse engine: set infraEnv.CLICKHOUSE_URL (scripts/lib/clickhouse-server.mjs)');
  }
  const replicaPorts = options.replicaPorts ?? replicaPortsFor(ports, replicas);
  if (replicaPorts.length !== replicas) throw new Error(`replicaPorts has ${replicaPorts.length} entries for ${replicas} replicas`);
  const pki = options.pki ?? (await ensurePki({ dir: isAbsolute(PKI_DIR_DEFAULT) ? PKI_DIR_DEFAULT : join(root, PKI_DIR_DEFAULT) }));
  const instances = Object.fromEntries(SERVICES.filter((s) => included.has(s.key)).map((s) => [s.key, Array.from({ length: countOf(s.key) }, (_, i) => instanceKey(s.key, i + 1))]));
  const grpcList = (key, portName) => replicaPorts.slice(0, countOf(key)).map((p) => local(p[portName])).join(',');
  const grpcAddresses = {
    bank: grpcList('bank', 'bankGrpc'),
    cardAdapter: grpcList('cardAdapter', 'cardAdapterGrpc'),
    analytics: grpcList('analytics', 'analyticsGrpc'),
    // One instance; the gateway is pointed at it even when it is not started (its calls then answer 503).
    webhooks: local(ports.webhookGrpc),
  };
  const ctx = {
    infra: infraEnv,
    ports,
    included,
    replicas,
    replica: 1,
    grpcAddresses,
    topics: options.topics ?? (await defaultTopics()),
    kafkaGroupId: options.kafkaGroupId,
    chdbPath: options.chdbPath,
    clickhouseRequestTimeoutMs: options.clickhouseRequestTimeoutMs,
    // The externally visible URL of the issuer (HAProxy with replicas): `iss` of its tokens and base of its discovery.
    issuer: `${IDENTITY_HTTPS ? 'https' : 'http'}://${local(ports.identityHttp)}`,
    paymentGatewayMockUrl: `${PAYMENT_GATEWAY_MOCK_HTTPS ? 'https' : 'http'}://${local(ports.paymentGatewayMockHttp)}`,
    devUsers: options.devUsers ?? true,
    // The gateway port browsers use (HAProxy's with replicas): /app and /console callbacks, both loopback names.
    // Every instance's ops listener (/readyz, /metrics), read by the gateway's GET /admin/system (the console).
    systemOpsUrls: OPS_PORT_NAMES.filter(([key]) => included.has(key))
      .flatMap(([key, name, port]) => replicaPorts.slice(0, countOf(key)).map((p) => `${name}=http://${local(p[port])}`))
      .join(','),
    webRedirectUris: ['localhost', '127.0.0.1'].flatMap((host) => ['app', 'console'].map((p) => `http://${host}:${ports.gatewayHttp}/${p}/callback`)).join(','),
    paymentGatewayApiKey: options.paymentGatewayApiKey,
    pki,
  };
  const services = SERVICES.filter((s) => included.has(s.key)).flatMap((s) =>
    instances[s.key].map((key, index) => describeInstance(s, { ...ctx, ports: replicaPorts[index], replica: index + 1 }, key, instances, options)),
  );
  const description = {
    ports,
    replicas,
    topics: ctx.topics,
    services,
    instances,
    grpcAddresses,
    baseUrl: `http://127.0.0.1:${ports.gatewayHttp}`,
    bankGrpcAddress: local(ports.bankGrpc),
    issuer: ctx.issuer,
    audience: AUTH_AUDIENCE,
    pki,
    loadBalancer: replicas > 1 ? describeLoadBalancer(ports, services) : undefined,
  };
  return description;
}

/** How many instances of a service: the run's count for ours, unless serviceReplicas says fewer; one mock. */
function replicaCountOf(key, replicas, serviceReplicas = {}) {
  if (!REPLICATED_SERVICE_KEYS.includes(key)) return 1;
  const count = serviceReplicas[key] ?? replicas;
  if (!Number.isInteger(count) || count < REPLICAS_MIN || count > replicas) {
    throw new Error(`serviceReplicas.${key} must be an integer ${REPLICAS_MIN}-${replicas} (the run's replicas), got ${count}`);
  }
  return count;
}

/** One instance of a service: its ports, readiness and env (replica 1 of a one-replica run is today's service). */
function describeInstance(s, ctx, key, instances, options) {
  const dependsOn = s.dependsOn.filter((d) => ctx.included.has(d));
  const ports = ctx.ports;
  // The gateway's /readyz checks every backend; without all of them, it is
  // ready when it serves (/healthz).
  const readyPath = s.dependsOn.length === dependsOn.length || s.key !== 'gateway' ? '/readyz' : '/healthz';
  const instanceName = ctx.replica === 1 ? s.name : `${s.name}.${ctx.replica}`;
  // Spans of each replica tell which instance served them.
  const otel = options.otel && ctx.replicas > 1 ? { ...options.otel, env: { OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${instanceName}`, ...options.otel.env } } : options.otel;
  return {
    key,
    serviceKey: s.key,
    replica: ctx.replica,
    name: s.name,
    instanceName,
    entry: entryOf(s.name),
    dependsOn: dependsOn.flatMap((d) => instances[d]),
    ports: Object.fromEntries(Object.entries(s.ports).map(([role, portName]) => [role, ports[portName]])),
    readyUrl: `http://127.0.0.1:${ports[s.ports.ops]}${readyPath}`,
    env: {
      ...options.commonEnv,
      ...otelEnvFor(s.name, otel),
      ...s.env(ctx),
      ...options.env?.[s.key],
      ...(key === s.key ? {} : options.env?.[key]),
    },
  };
}

/**
 * HAProxy in front of the gateways (HTTP, health-checked on the readiness
 * path) and the identity-services (TCP, TLS passed through, health-checked on
 * their ops /readyz): clients keep the one-replica URLs (scripts/lib/haproxy.mjs).
 */
function describeLoadBalancer(ports, services) {
  const backendsOf = (serviceKey, checkPortOf) =>
    services.filter((s) => s.serviceKey === serviceKey).map((s) => ({
      key: s.key,
      port: s.ports.http,
      checkPort: checkPortOf(s),
      checkPath: new URL(s.readyUrl).pathname,
    }));
  const frontends = {};
  const gateways = backendsOf('gateway', (s) => s.ports.http);
  if (gateways.length) frontends.gateway = { port: ports.gatewayHttp, mode: 'http', backends: gateways };
  const identities = backendsOf('identity', (s) => s.ports.ops);
  if (identities.length) frontends.identity = { port: ports.identityHttp, mode: 'tcp', backends: identities };
  const statsBase = `http://127.0.0.1:${ports.lbStats}`;
  return {
    key: 'loadBalancer',
    name: 'haproxy',
    instanceName: 'haproxy',
    statsPort: ports.lbStats,
    statsUrl: `${statsBase}/stats`,
    metricsUrl: `${statsBase}/metrics`,
    readyUrl: `${statsBase}/healthz`,
    frontends,
  };
}

/**
 * The OpenTelemetry variables of one service (issue 12): with an OTLP endpoint
 * (`npm start -- --traces`, the tracing e2e test, the bench's tracing
 * comparison) its spans are exported there under its own service name; without
 * one nothing is set and the services keep their always-off sampler.
 */
export function otelEnvFor(serviceName, otel) {
  if (!otel?.endpoint) return {};
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: otel.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: otel.protocol ?? 'http/protobuf',
    OTEL_SERVICE_NAME: serviceName,
    ...otel.env,
  };
}

/**
 * Describes and starts the services (in dependency order, each gated on its
 * readiness). Options: those of describeSystem and of createSystem.
 */
export async function startSystem(options) {
  const system = createSystem(await describeSystem(options), options);
  try {
    await system.startAll();
  } catch (error) {
    await system.stop().catch(() => {});
    throw error;
  }
  return system;
}
