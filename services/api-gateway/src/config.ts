import { env, loadConfigWithSecrets, type SecretSpecs } from '@wallet/platform';
import { grpcSecurityOptions, tlsConfigShape, type GrpcSecurityOptions } from '@wallet/platform/tls';
import { z } from 'zod';
import { checkEdgeSettings } from './edge-config.js';

/**
 * Environment of the api-gateway. Every variable has a default that works
 * with `npm start` on one machine; exported so the compose check can compare
 * the compose file's variables with this schema.
 */
export const configSchema = z.object({
  GATEWAY_HTTP_HOST: env.host('127.0.0.1'),
  /** 0 = pick a free port (tests). */
  GATEWAY_HTTP_PORT: env.port(8080),
  /**
   * Both set: the public port serves HTTPS (HTTP/2 and HTTP/1.1) with these PEM
   * files, re-read on TLS_RELOAD_INTERVAL_MS and SIGHUP. Neither: plain HTTP
   * behind a TLS-terminating load balancer (see README).
   */
  HTTPS_CERT_FILE: env.optionalString(),
  HTTPS_KEY_FILE: env.optionalString(),
  // Mutual TLS of every gRPC client (TLS_CA_FILE, TLS_CERT_FILE, TLS_KEY_FILE, ...).
  ...tlsConfigShape,
  LOG_LEVEL: env.logLevel(),

  // host:port, a comma list of replicas (host:port,host:port) or dns:///name:port (every record a
  // replica); the value becomes the grpc-js target (parseGrpcTarget), a bad one a config error.
  GATEWAY_BANK_GRPC_ADDRESS: env.grpcTarget('127.0.0.1:50051'),
  GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: env.grpcTarget('127.0.0.1:50052'),
  GATEWAY_ANALYTICS_GRPC_ADDRESS: env.grpcTarget('127.0.0.1:50053'),
  GATEWAY_WEBHOOK_GRPC_ADDRESS: env.grpcTarget('127.0.0.1:50054'),

  /**
   * Client-side health checking of the replicas behind each address (C1): each is asked
   * grpc.health.v1 Check this often, and gets calls only while it answers SERVING within the
   * timeout. A killed replica drops out at once (its connection closes); a hung or NOT_SERVING one
   * within interval + timeout. The timeout covers a first mutual-TLS handshake on a busy machine.
   */
  GATEWAY_GRPC_HEALTH_PROBE_INTERVAL_MS: env.int(1000, 100, 60_000),
  GATEWAY_GRPC_HEALTH_PROBE_TIMEOUT_MS: env.int(1000, 50, 10_000),
  /** Deadline of every gRPC call except the top-up. */
  GATEWAY_GRPC_DEADLINE_MS: env.int(3000, 50, 60_000),
  /**
   * A top-up waits on an external card charge and the deposit (each bounded by
   * the adapter's own timeouts and retries), so it gets its own, longer
   * deadline: the adapter's precise answer should arrive before ours fires.
   */
  GATEWAY_TOPUP_DEADLINE_MS: env.int(30_000, 50, 120_000),
  /**
   * Statements (GET /accounts/{id}/statement, ADR 0020): the whole stream's deadline, the
   * longest range, and the most entries one statement may hold (a larger range is a 422 before
   * anything is streamed).
   */
  GATEWAY_STATEMENT_DEADLINE_MS: env.int(120_000, 1_000, 600_000),
  GATEWAY_STATEMENT_RANGE_DAYS_MAX: env.int(366, 1, 3_660),
  GATEWAY_STATEMENT_ENTRIES_MAX: env.int(100_000, 1, 1_000_000),
  /** Deadline of each grpc.health.v1 Check behind /readyz. */
  GATEWAY_READINESS_TIMEOUT_MS: env.int(1000, 50, 30_000),
  /** Retry-After (seconds) sent with 503 answers. */
  GATEWAY_RETRY_AFTER_SECONDS: env.int(1, 1, 3600),

  // Circuit breakers around bank, card adapter and analytics (clients/guarded.ts, @wallet/platform/resilience).
  /** How long an open breaker refuses calls before letting one probe through (half-open). */
  GATEWAY_BREAKER_RESET_TIMEOUT_MS: env.int(5000, 100, 600_000),
  /** Share of infrastructure failures (in %) in the rolling window at or above which a breaker opens. */
  GATEWAY_BREAKER_FAILURE_PERCENT_MAX: env.int(50, 1, 100),
  /** Calls in the rolling window before a breaker may open (a few failures on a quiet gateway do not). */
  GATEWAY_BREAKER_VOLUME_MIN: env.int(10, 1, 100_000),
  /** Length of the rolling window the failure share is counted over. */
  GATEWAY_BREAKER_WINDOW_MS: env.int(10_000, 1000, 600_000),

  // Load shedding (plugins/load-shedding.ts): over either bound new requests get 503 service-overloaded.
  /** Mean event-loop delay above which new requests are refused (sampled every second). */
  GATEWAY_EVENT_LOOP_DELAY_MS_MAX: env.int(1000, 10, 60_000),
  /** Requests served at once above which new requests are refused. */
  GATEWAY_REQUESTS_IN_FLIGHT_MAX: env.int(1024, 1, 1_000_000),
  /**
   * After SIGTERM: how long /readyz answers 503 while requests are still served, so the load
   * balancer's health check takes this replica out first (HAProxy: inter × fall). 0 in tests.
   */
  GATEWAY_DRAIN_MS: env.int(5000, 0, 120_000),

  /** Currency of transfers and top-ups made over REST (the bank checks it matches the accounts). */
  GATEWAY_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as USD')
    .default('USD'),

  /** Largest accepted request body; requests are small JSON documents. */
  GATEWAY_BODY_BYTES_MAX: env.int(16 * 1024, 1024, 1024 * 1024),
  /** Idle socket timeout (node:http server.timeout). */
  GATEWAY_HTTP_CONNECTION_TIMEOUT_MS: env.int(60_000, 1000, 600_000),
  /** Longer than the usual 60 s idle timeout of load balancers in front, so they close first. */
  GATEWAY_HTTP_KEEP_ALIVE_TIMEOUT_MS: env.int(72_000, 1000, 600_000),
  /** Upper bound on receiving one whole request (slow-loris guard). */
  GATEWAY_HTTP_REQUEST_TIMEOUT_MS: env.int(30_000, 1000, 600_000),

  /** `production` moves /metrics and /readyz detail to the ops listener and refuses CORS_ORIGINS=*. */
  NODE_ENV: z.string().default('development'),

  // Rate limits (plugins/rate-limit.ts); 0 turns a limit off.
  /** Money-moving calls (POST transfers, top-ups, accounts) per user (token subject) per minute. */
  GATEWAY_RATE_LIMIT_USER_PER_MINUTE: env.int(120, 0, 1_000_000),
  /** Calls to /auth/* (register, token, logout) per client address per minute. */
  GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: env.int(60, 0, 1_000_000),
  /** Keys the in-process store keeps at most (least recently used forgotten first; bounded memory). */
  GATEWAY_RATE_LIMIT_CLIENTS_MAX: env.int(10_000, 1, 1_000_000),
  /** Shared limit store (Redis/Valkey, redis:// or rediss://); unset = in-process, per replica. */
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  GATEWAY_REDIS_CONNECT_TIMEOUT_MS: env.int(1000, 50, 30_000),
  /** Bound on one limit check; past it the request is limited in-process instead (see README). */
  GATEWAY_REDIS_COMMAND_TIMEOUT_MS: env.int(250, 10, 10_000),
  /** `false`, a hop count, or proxy addresses/CIDRs: whose X-Forwarded-For names the client. */
  GATEWAY_TRUST_PROXY: z.string().default('false'),

  /** Comma-separated allowed origins; unset: localhost:3000 in development, none in production. */
  CORS_ORIGINS: z.string().optional(),

  /** With NODE_ENV=production: /metrics and /readyz detail listen here, not on the public port. */
  GATEWAY_OPS_HOST: env.host('127.0.0.1'),
  GATEWAY_OPS_PORT: env.port(9100),
  GATEWAY_SHUTDOWN_TIMEOUT_MS: env.int(10_000, 100, 120_000),

  // Access tokens: verified through the issuer's OpenID discovery + JWKS only, so
  // Keycloak, Auth0 or Entra ID work by configuration (same names in every service).
  /** Exact `iss` of accepted tokens; discovery at `${AUTH_ISSUER}/.well-known/openid-configuration`. */
  AUTH_ISSUER: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8090'),
  /** `aud` a token must carry. */
  AUTH_AUDIENCE: env.string('wallet-api'),
  /** Claim (name or dotted path) holding the roles: `roles`, Keycloak `realm_access.roles`. */
  AUTH_ROLES_CLAIM: env.string('roles'),
  /** Bound on each discovery/JWKS fetch. */
  GATEWAY_AUTH_FETCH_TIMEOUT_MS: env.int(3000, 100, 30_000),
  /**
   * After a JWKS fetch, no other for this long. A token naming an unknown key
   * (the issuer just rotated) is refused until the next fetch, so this stays
   * short; it still bounds what random key ids can make us fetch.
   */
  GATEWAY_AUTH_JWKS_COOLDOWN_MS: env.int(1000, 0, 60_000),
  /** Verified tokens remembered (by hash) so repeat calls skip the signature check; 0 = off. */
  GATEWAY_AUTH_VERIFIED_CACHE_SIZE_MAX: env.int(10_000, 0, 1_000_000),
  /** How long a verified token is remembered at most (never past its exp). */
  GATEWAY_AUTH_VERIFIED_CACHE_TTL_MS: env.int(60_000, 0, 900_000),

  /** The identity-service that /auth/* is forwarded to. */
  GATEWAY_IDENTITY_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:8090'),
  /** Deadline of one forwarded /auth/* call (argon2 hashing takes a while on a busy machine). */
  GATEWAY_IDENTITY_TIMEOUT_MS: env.int(10_000, 100, 60_000),
  /** Largest identity-service answer the gateway relays (token responses are a few KiB). */
  GATEWAY_IDENTITY_RESPONSE_BYTES_MAX: env.int(64 * 1024, 1024, 1024 * 1024),

  /**
   * Ops listeners (/readyz, /metrics) GET /admin/system reads, `name=url` comma-separated; one name
   * several times = its replicas. Default: every service's local default ops port.
   */
  GATEWAY_SYSTEM_OPS_URLS: env.string(
    'identity-service=http://127.0.0.1:9105,bank-service=http://127.0.0.1:9101,bank-card-adapter=http://127.0.0.1:9102,analytics-service=http://127.0.0.1:9103,payment-gateway-mock=http://127.0.0.1:9106',
  ),
  /** Deadline of each /readyz and /metrics probe of GET /admin/system; a silent service is ready:false. */
  GATEWAY_SYSTEM_PROBE_TIMEOUT_MS: env.int(1_000, 50, 10_000),
  /** The window of GET /admin/system's recent error rate (this gateway's answers). */
  GATEWAY_SYSTEM_ERROR_WINDOW_SECONDS: env.int(300, 10, 3_600),

  /** The built web app served at /app/ and /console/ (plugins/web-app.ts); unset: this repository's apps/web/dist. */
  GATEWAY_WEB_APP_DIR: env.optionalString(),
})
  .superRefine(checkEdgeSettings)
  .superRefine(checkShutdownBudget);

/** The drain is part of the shutdown, so it must leave time to finish in-flight requests. */
function checkShutdownBudget(config: { GATEWAY_DRAIN_MS: number; GATEWAY_SHUTDOWN_TIMEOUT_MS: number }, context: z.RefinementCtx): void {
  if (config.GATEWAY_DRAIN_MS >= config.GATEWAY_SHUTDOWN_TIMEOUT_MS) {
    context.addIssue({
      code: 'custom',
      path: ['GATEWAY_DRAIN_MS'],
      message: `must be below GATEWAY_SHUTDOWN_TIMEOUT_MS (${config.GATEWAY_SHUTDOWN_TIMEOUT_MS}), which bounds the drain and the close after it`,
    });
  }
}

export type GatewayConfig = z.infer<typeof configSchema>;

/** The process's configuration: the settings plus the gRPC transport security read from them. */
export type GatewayProcessConfig = GatewayConfig & { grpcSecurity: GrpcSecurityOptions };

/**
 * Secrets of the gateway (X or X_FILE; in production only X_FILE). REDIS_URL
 * carries the Valkey password; it stays optional (unset = in-process limits).
 */
export const GATEWAY_SECRETS: SecretSpecs = {
  REDIS_URL: { required: false },
};

/** Reads the environment; throws a ConfigError naming every bad variable (runService exits 2). */
export function loadGatewayConfig(environment: NodeJS.ProcessEnv = process.env): GatewayProcessConfig {
  const settings = loadConfigWithSecrets(configSchema, GATEWAY_SECRETS, environment);
  return { ...settings, grpcSecurity: grpcSecurityOptions(settings) };
}
