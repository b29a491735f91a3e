import { contractPaths } from '@wallet/contracts';
import { createMetricsRegistry, type Logger } from '@wallet/platform';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyHttpOptions, type FastifyInstance } from 'fastify';
import type { Server as HttpServer } from 'node:http';
import type { Registry } from 'prom-client';
import { createTokenVerifier, type TokenVerifier } from '@wallet/platform/auth';
import { httpServerObservability } from '@wallet/platform/http';
import { createIdentityClient, type IdentityApi } from './clients/identity.js';
import type { IdentityUsersApi } from './clients/identity-users.js';
import { createDrainState, installDrainConnectionClose, type DrainState } from './drain.js';
import type { GatewayClients } from './clients/types.js';
import type { GatewayConfig } from './config.js';
import { corsOriginsOf, isProduction, trustProxyOf } from './edge-config.js';
import { EDGE_PROBLEMS, problemFromKind } from './mapping/problems.js';
import { loadOpenApiSpec, type OpenApiSpec } from './openapi/spec.js';
import { installAccessLog } from './plugins/access-log.js';
import { installAuthentication } from './plugins/auth.js';
import { installErrorHandling, sendProblem } from './plugins/errors.js';
import { installLoadShedding } from './plugins/load-shedding.js';
import { installOpenApiValidation } from './plugins/openapi-validation.js';
import { installConfiguredRateLimits } from './plugins/rate-limit.js';
import { installSecurityHeaders } from './plugins/security-headers.js';
import { defaultWebAppDir, registerWebApp } from './plugins/web-app.js';
import { installRequestIdEcho, REQUEST_ID_HEADER, requestIdFrom } from './plugins/request-id.js';
import { registerAccountRoutes } from './routes/accounts.js';
import { registerAdminAccountRoutes } from './routes/admin-accounts.js';
import { registerAuthRoutes } from './routes/auth.js';
import { registerBalanceRoutes } from './routes/balance.js';
import { registerStatementRoutes } from './routes/statements.js';
import type { RouteDeps } from './routes/deps.js';
import { registerDocsRoutes } from './routes/docs.js';
import { OPS_ONLY_OPERATIONS, registerHealthRoutes } from './routes/health.js';
import { registerOperationRoutes } from './routes/operations.js';
import { registerSummaryRoutes } from './routes/summary.js';
import { parseOpsTargets, registerSystemRoutes } from './routes/system.js';
import { registerTopUpRoutes } from './routes/topup.js';
import { registerRefundRoutes } from './routes/refunds.js';
import { registerTransferRoutes } from './routes/transfers.js';
import { registerReversalRoutes } from './routes/reversals.js';
import { registerHoldRoutes } from './routes/holds.js';
import { registerLimitRoutes } from './routes/limits.js';
import { registerAdminLedgerRoutes } from './routes/admin-ledger.js';
import { registerWebhookRoutes } from './routes/webhooks.js';

export interface BuildServerOptions {
  config: GatewayConfig;
  clients: GatewayClients;
  logger: Logger;
  /** Defaults to a fresh registry with the process metrics. */
  registry?: Registry;
  /** Defaults to the contract, services/common/wallet-api/openapi.yaml. */
  spec?: OpenApiSpec;
  /** Defaults to discovery + JWKS of AUTH_ISSUER. */
  verifier?: TokenVerifier;
  /** Defaults to the identity-service at GATEWAY_IDENTITY_URL. */
  identity?: IdentityApi;
  /** Defaults to GET /users of the identity-service at GATEWAY_IDENTITY_URL (the console's owner lookup). */
  identityUsers?: IdentityUsersApi;
  /** Serve HTTPS (HTTP/2 and HTTP/1.1) with this certificate; absent: plain HTTP/1.1. */
  https?: PublicTlsIdentity;
  /**
   * The internal CA (TLS_CA_FILE's content), trusted besides the system roots
   * for an https AUTH_ISSUER (discovery, JWKS) and GATEWAY_IDENTITY_URL.
   */
  internalCa?: Buffer;
  /** Set by the shutdown (drainAndClose): /readyz answers 503 while requests are still served. */
  drain?: DrainState;
}

/** The public port's certificate chain and key (PEM). */
export interface PublicTlsIdentity {
  cert: Buffer;
  key: Buffer;
}

/** Headers a browser may read from a cross-origin response. */
const EXPOSED_HEADERS = ['Idempotent-Replayed', 'X-Request-Id', 'X-Trace-Id', 'Retry-After', 'WWW-Authenticate'];

/**
 * The HTTP application, without listening: main.ts listens, tests inject.
 * Every operation of openapi.yaml gets a route whose request schemas come
 * from the document; the route set is checked against it at build time.
 */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  const { config, clients, logger } = options;
  const spec = options.spec ?? loadOpenApiSpec(contractPaths.openapi);
  const registry = options.registry ?? createMetricsRegistry('api-gateway');

  const app = Fastify({
    ...transportOptions(config, options.https),
    loggerInstance: logger as FastifyBaseLogger,
    // Our own one-line access log (plugins/access-log.ts) replaces Fastify's two lines per request.
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'requestId' }),
    genReqId: (req) => requestIdFrom(req.headers[REQUEST_ID_HEADER]),
    bodyLimit: config.GATEWAY_BODY_BYTES_MAX,
    // Whose X-Forwarded-For names the client (request.ip: rate limits, logs); none by default.
    trustProxy: trustProxyOf(config),
    connectionTimeout: config.GATEWAY_HTTP_CONNECTION_TIMEOUT_MS,
    // While closing: answer 503 to new requests.
    return503OnClosing: true,
    // A malformed URL (bad percent-encoding) never reaches a route: answer it as a problem too.
    frameworkErrors: (_error, request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      sendProblem(request, reply, problemFromKind(EDGE_PROBLEMS.badRequest, 'The request URL is malformed.'), config.GATEWAY_RETRY_AFTER_SECONDS);
    },
  });

  // Bodies are JSON only: without the default text/plain parser, any other type is a 415.
  app.removeContentTypeParser('text/plain');

  // First, before any route: a SERVER span per request (the public edge: a client's traceparent is
  // only linked), X-Trace-Id, trace ids on request.log, http_server_request_duration_seconds.
  httpServerObservability(app, { registry, edge: true });
  installRequestIdEcho(app);
  installAccessLog(app);
  installOpenApiValidation(app);
  installErrorHandling(app, { spec, retryAfterSeconds: config.GATEWAY_RETRY_AFTER_SECONDS });
  // Before anything that can refuse a request, so a 401 or 429 carries security and CORS headers too.
  await installSecurityHeaders(app, { corsOrigins: corsOriginsOf(config), exposedHeaders: EXPOSED_HEADERS });
  const verifier = options.verifier ?? verifierFrom(config, options.internalCa, registry);
  app.addHook('onClose', async () => verifier.close?.());
  // Before authentication: an overloaded gateway refuses new work before spending anything on it.
  await installLoadShedding(app, {
    eventLoopDelayMsMax: config.GATEWAY_EVENT_LOOP_DELAY_MS_MAX,
    requestsInFlightMax: config.GATEWAY_REQUESTS_IN_FLIGHT_MAX,
    retryAfterSeconds: config.GATEWAY_RETRY_AFTER_SECONDS,
    registry,
  });
  const drain = options.drain ?? createDrainState();
  installDrainConnectionClose(app, drain);
  installAuthentication(app, verifier);

  // After authentication: the per-user limit is keyed on the verified principal.
  await installConfiguredRateLimits(app, config, registry);

  const deps: RouteDeps = { config, clients, spec };
  registerAccountRoutes(app, deps);
  registerTransferRoutes(app, deps);
  registerReversalRoutes(app, deps);
  registerHoldRoutes(app, deps);
  registerLimitRoutes(app, deps);
  registerAdminLedgerRoutes(app, deps);
  registerBalanceRoutes(app, deps);
  registerStatementRoutes(app, deps);
  registerOperationRoutes(app, deps);
  registerSummaryRoutes(app, deps);
  registerTopUpRoutes(app, deps);
  registerRefundRoutes(app, deps);
  registerWebhookRoutes(app, deps);
  registerHealthRoutes(app, deps, registry, drain);
  registerSystemRoutes(app, deps, {
    registry,
    targets: parseOpsTargets(config.GATEWAY_SYSTEM_OPS_URLS),
    probeTimeoutMs: config.GATEWAY_SYSTEM_PROBE_TIMEOUT_MS,
    errorWindowSeconds: config.GATEWAY_SYSTEM_ERROR_WINDOW_SECONDS,
  });
  registerAdminAccountRoutes(app, deps, {
    identityUrl: config.GATEWAY_IDENTITY_URL,
    timeoutMs: config.GATEWAY_IDENTITY_TIMEOUT_MS,
    ...(options.internalCa && config.GATEWAY_IDENTITY_URL.startsWith('https:') ? { ca: options.internalCa } : {}),
    ...(options.identityUsers ? { users: options.identityUsers } : {}),
  });
  const identity = options.identity ?? identityFrom(config, options.internalCa);
  app.addHook('onClose', async () => identity.close?.());
  await registerAuthRoutes(app, deps, identity);
  await registerDocsRoutes(app, spec);
  await registerWebApp(app, { dir: config.GATEWAY_WEB_APP_DIR ?? defaultWebAppDir() });

  // In production /metrics is served by the ops listener (ops-server.ts), not here.
  assertEveryOperationRouted(app, spec, isProduction(config) ? OPS_ONLY_OPERATIONS : new Set());
  return app;
}

/**
 * Plain HTTP/1.1, or HTTPS with HTTP/2 and HTTP/1.1 (ALPN) on the same port.
 * An HTTP/2 server has no idle-connection close, so shutdown closes its
 * sessions (GOAWAY, in-flight streams finish) and HTTP/1.1 sockets.
 */
function transportOptions(config: GatewayConfig, https: PublicTlsIdentity | undefined): Partial<FastifyHttpOptions<HttpServer>> {
  if (!https) {
    return {
      keepAliveTimeout: config.GATEWAY_HTTP_KEEP_ALIVE_TIMEOUT_MS,
      requestTimeout: config.GATEWAY_HTTP_REQUEST_TIMEOUT_MS,
      forceCloseConnections: 'idle' as const,
    };
  }
  return {
    http2: true as const,
    https: { allowHTTP1: true, cert: https.cert, key: https.key, minVersion: 'TLSv1.2' as const },
    http2SessionTimeout: config.GATEWAY_HTTP_KEEP_ALIVE_TIMEOUT_MS,
    forceCloseConnections: true,
    // Typed as the HTTP/1 server: the routes use only what requests and replies of both offer.
  } as unknown as Partial<FastifyHttpOptions<HttpServer>>;
}

function verifierFrom(config: GatewayConfig, ca: Buffer | undefined, registry: Registry): TokenVerifier {
  return createTokenVerifier({
    registry,
    ...(ca && config.AUTH_ISSUER.startsWith('https:') ? { caCertificates: ca } : {}),
    issuer: config.AUTH_ISSUER,
    audience: config.AUTH_AUDIENCE,
    rolesClaim: config.AUTH_ROLES_CLAIM,
    fetchTimeoutMs: config.GATEWAY_AUTH_FETCH_TIMEOUT_MS,
    jwksCooldownMs: config.GATEWAY_AUTH_JWKS_COOLDOWN_MS,
    verifiedCacheSizeMax: config.GATEWAY_AUTH_VERIFIED_CACHE_SIZE_MAX,
    verifiedCacheTtlMs: config.GATEWAY_AUTH_VERIFIED_CACHE_TTL_MS,
  });
}

function identityFrom(config: GatewayConfig, ca: Buffer | undefined): IdentityApi {
  return createIdentityClient({
    ...(ca && config.GATEWAY_IDENTITY_URL.startsWith('https:') ? { ca } : {}),
    baseUrl: config.GATEWAY_IDENTITY_URL,
    timeoutMs: config.GATEWAY_IDENTITY_TIMEOUT_MS,
    responseBytesMax: config.GATEWAY_IDENTITY_RESPONSE_BYTES_MAX,
  });
}

/** Fails the start if openapi.yaml declares an operation no route implements. */
function assertEveryOperationRouted(app: FastifyInstance, spec: OpenApiSpec, servedElsewhere: ReadonlySet<string>): void {
  const missing = [...spec.operations.values()].filter(
    (op) => !servedElsewhere.has(op.operationId) && !app.hasRoute({ method: op.method as 'GET', url: op.url }),
  );
  if (missing.length > 0) {
    throw new Error(`openapi.yaml operations without a route: ${missing.map((op) => op.operationId).join(', ')}`);
  }
}
