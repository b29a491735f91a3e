// Composition root: pool, migrations, key ring, seeding, HTTP and ops servers,
// periodic key refresh and cleanup. main.ts calls it with the environment's
// config; tests call it in-process.
import type { Server as TlsServer } from 'node:tls';
import type pg from 'pg';
import type { FastifyInstance } from 'fastify';
import { createMetricsRegistry, REDACTED_PATHS, redactUrl, startOpsServer, type Logger, type ShutdownStep } from '@wallet/platform';
import { createPool } from '@wallet/platform/db';
import { followCertificateRotation, ReloadingCertificateProvider, type TlsReloadEvent } from '@wallet/platform/tls';
import { DbKeyRing, FileKeyRing, type KeyRing } from './app/key-ring.js';
import { PasswordHasher } from './app/password-hasher.js';
import { TokenService } from './app/tokens.js';
import { DEV_CLIENT, readClientsFile, seedClients, seedDevUsers, UserService, type SeedClient } from './app/users.js';
import { keyEncryptionSecret, sessionCookieSecurity, webPostLogoutRedirectUris, webRedirectUris, type Config } from './config.js';
import { AuthorizeService } from './app/authorize.js';
import { SessionService } from './app/sessions.js';
import { PgSessionStore } from './db/sessions.js';
import { PgAuthorizationCodeStore } from './db/authorization-codes.js';
import { PgClientStore } from './db/clients.js';
import { PgLoginFailureStore } from './db/login-failures.js';
import { migrateIdentity } from './db/migrations.js';
import { PgRefreshTokenStore } from './db/refresh-tokens.js';
import { PgSigningKeyStore } from './db/signing-keys.js';
import { PgUserStore } from './db/users.js';
import { buildHttpServer } from './http/server.js';
import { createIdentityMetrics, type IdentityMetrics } from './metrics.js';

/** Everything secret this service handles, censored wherever it appears in a logged object. */
export const IDENTITY_REDACTED_PATHS = [
  ...REDACTED_PATHS,
  'client_secret', '*.client_secret', 'clientSecret', '*.clientSecret',
  'refresh_token', '*.refresh_token', 'access_token', '*.access_token',
  'req.body', 'body', 'params', 'req.query',
  // The sign-in page's session cookie (its value signs a browser in).
  'cookie', '*.cookie', 'req.headers.cookie', 'set-cookie', '*["set-cookie"]', 'res.headers["set-cookie"]',
];

/** Clock skew allowed to verifiers when deciding how long a superseded key stays published. */
const CLOCK_SKEW_MS = 60_000;
const CLEANUP_INTERVAL_MS = 10 * 60_000;

export interface RunningIdentity {
  app: FastifyInstance;
  httpPort: number;
  opsPort: number;
  pool: pg.Pool;
  keyRing: KeyRing;
  metrics: IdentityMetrics;
  info: Record<string, unknown>;
  shutdownSteps: ShutdownStep[];
  stop(): Promise<void>;
}

export function createIdentityPool(config: Config, logger: Logger): pg.Pool {
  return createPool(
    {
      connectionString: config.DATABASE_URL,
      connectionsMax: config.IDENTITY_DATABASE_CONNECTIONS_MAX,
      connectTimeoutMs: 5_000,
      statementTimeoutMs: config.IDENTITY_DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: config.IDENTITY_DATABASE_STATEMENT_TIMEOUT_MS * 2,
      applicationName: 'identity-service',
    },
    logger,
  );
}

export function createKeyRing(config: Config, pool: pg.Pool, metrics: IdentityMetrics, now: () => number): KeyRing {
  if (config.IDENTITY_SIGNING_KEY_FILE) return new FileKeyRing(config.IDENTITY_SIGNING_KEY_FILE, config.IDENTITY_SIGNING_KEY_PREVIOUS_FILE);
  return new DbKeyRing(new PgSigningKeyStore(pool), {
    algorithm: config.IDENTITY_SIGNING_KEY_ALGORITHM,
    encryptionSecret: keyEncryptionSecret(config),
    rotationIntervalMs: config.IDENTITY_SIGNING_KEY_ROTATION_INTERVAL_MS,
    // A replica may sign with the old key until its next refresh; tokens then live their TTL.
    retainMs: config.IDENTITY_ACCESS_TOKEN_TTL_SECONDS * 1000 + config.IDENTITY_SIGNING_KEY_REFRESH_MS + CLOCK_SKEW_MS,
    now,
    onRotated: () => metrics.keyRotations.inc(),
  });
}

function createHasher(config: Config, metrics: IdentityMetrics): PasswordHasher {
  return new PasswordHasher(
    {
      concurrencyMax: config.IDENTITY_PASSWORD_HASH_CONCURRENCY_MAX,
      queueMax: config.IDENTITY_PASSWORD_HASH_QUEUE_MAX,
      queueWaitMsMax: config.IDENTITY_PASSWORD_HASH_QUEUE_WAIT_MS_MAX,
      memoryKib: config.IDENTITY_ARGON2_MEMORY_KIB,
      iterations: config.IDENTITY_ARGON2_ITERATIONS,
    },
    metrics,
  );
}

/** Runs task every intervalMs, never two at once; failures are logged, not fatal. */
function every(intervalMs: number, logger: Logger, what: string, task: () => Promise<unknown>): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    task()
      .catch((error: unknown) => logger.warn({ err: error }, `${what} failed; retrying next period`))
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

async function seed(config: Config, pool: pg.Pool, hasher: PasswordHasher, logger: Logger): Promise<void> {
  const clients: SeedClient[] = config.IDENTITY_CLIENTS_FILE ? readClientsFile(config.IDENTITY_CLIENTS_FILE) : [];
  if (config.IDENTITY_SEED_DEV_USERS) {
    const created = await seedDevUsers(new PgUserStore(pool), hasher);
    // loadIdentityConfig filled the secret (a file in production, never the published one there).
    clients.push({ ...DEV_CLIENT, clientSecret: config.IDENTITY_DEV_CLIENT_SECRET ?? DEV_CLIENT.clientSecret });
    logger.warn({ created }, 'development users seeded (IDENTITY_SEED_DEV_USERS=true); never enable in production');
  }
  await seedClients(new PgClientStore(pool), hasher, clients);
}

/** HTTPS material for the public server (null: plain HTTP, allowed outside production only). */
function createHttpsProvider(config: Config, logger: Logger): ReloadingCertificateProvider | null {
  if (config.tls === null) return null;
  const onReload = (event: TlsReloadEvent): void => {
    if (event.outcome === 'reloaded') logger.info({ notAfter: event.notAfter }, 'tls: service certificate reloaded');
    if (event.outcome === 'failed') logger.error({ err: event.error }, 'tls: new certificate files unusable; keeping the current ones');
  };
  const provider = new ReloadingCertificateProvider({ ...config.tls, onReload });
  // The expiry at start makes an expired or soon-expiring certificate diagnosable from the log.
  logger.info({ notAfter: provider.current().notAfter }, 'tls: serving HTTPS with the service certificate');
  return provider;
}

export async function startIdentityService(config: Config, logger: Logger, now: () => number = Date.now): Promise<RunningIdentity> {
  // First: unusable certificate files fail the start before anything else is opened.
  const httpsProvider = createHttpsProvider(config, logger);
  const pool = createIdentityPool(config, logger);
  const registry = createMetricsRegistry('identity-service');
  const metrics = createIdentityMetrics(registry);
  const hasher = createHasher(config, metrics);
  const keyRing = createKeyRing(config, pool, metrics, now);
  const stops: (() => void)[] = [];
  try {
    if (config.IDENTITY_MIGRATE_ON_START) await migrateIdentity(config.DATABASE_URL, logger);
    await keyRing.refresh();
    await seed(config, pool, hasher, logger);
  } catch (error) {
    await pool.end();
    throw error;
  }
  const loginFailures = new PgLoginFailureStore(pool);
  const refreshTokens = new PgRefreshTokenStore(pool);
  const users = new PgUserStore(pool);
  const authorizationCodes = new PgAuthorizationCodeStore(pool);
  const codeClients = [{ clientId: config.IDENTITY_WEB_CLIENT_ID, redirectUris: webRedirectUris(config), postLogoutRedirectUris: webPostLogoutRedirectUris(config) }];
  const sessions = new SessionService(
    new PgSessionStore(pool),
    {
      absoluteTtlMs: config.IDENTITY_SESSION_ABSOLUTE_TTL_SECONDS * 1000,
      idleTtlMs: config.IDENTITY_SESSION_IDLE_TTL_SECONDS * 1000,
      perUserMax: config.IDENTITY_SESSIONS_PER_USER_MAX,
    },
    metrics,
    now,
  );
  const lockout = { failuresMax: config.IDENTITY_LOGIN_FAILURES_MAX, failureWindowMs: config.IDENTITY_LOGIN_FAILURE_WINDOW_MS, lockMs: config.IDENTITY_LOGIN_LOCK_MS };
  const tokens = new TokenService(
    { users, clients: new PgClientStore(pool), refreshTokens, authorizationCodes, loginFailures, hasher, keyRing, metrics, now },
    {
      issuer: config.IDENTITY_ISSUER,
      audience: config.IDENTITY_AUDIENCE,
      accessTokenTtlSeconds: config.IDENTITY_ACCESS_TOKEN_TTL_SECONDS,
      refreshTokenTtlSeconds: config.IDENTITY_REFRESH_TOKEN_TTL_SECONDS,
      lockout,
      publicClientIds: config.IDENTITY_PUBLIC_CLIENT_IDS.split(',').map((s) => s.trim()).filter((s) => s !== ''),
      codeClients,
      authorizationCodeTtlMs: config.IDENTITY_AUTHORIZATION_CODE_TTL_SECONDS * 1000,
    },
  );
  stops.push(every(config.IDENTITY_SIGNING_KEY_REFRESH_MS, logger, 'signing key refresh', () => keyRing.refresh()));
  stops.push(
    every(CLEANUP_INTERVAL_MS, logger, 'cleanup', async () => {
      await loginFailures.purge(now(), lockout.failureWindowMs);
      await refreshTokens.purgeExpired(now());
      await authorizationCodes.purgeExpired(now());
      await sessions.purgeExpired();
    }),
  );
  const userService = new UserService(users, hasher);
  const app = await buildHttpServer({
    logger, metrics, registry, https: httpsProvider?.current() ?? null, issuer: config.IDENTITY_ISSUER, audience: config.IDENTITY_AUDIENCE, tokens, users: userService, keyRing,
    authorize: new AuthorizeService(tokens, userService, sessions, codeClients),
    cookieSecurity: sessionCookieSecurity(config), now,
    bodyBytesMax: config.IDENTITY_BODY_BYTES_MAX, requestTimeoutMs: config.IDENTITY_HTTP_REQUEST_TIMEOUT_MS,
  });
  // New connections use rotated certificate files; open ones keep their handshake.
  if (httpsProvider) stops.push(followCertificateRotation(app.server as unknown as TlsServer, httpsProvider), () => httpsProvider.close());
  await app.listen({ host: config.IDENTITY_HTTP_HOST, port: config.IDENTITY_HTTP_PORT });
  const httpPort = (app.server.address() as { port: number }).port;
  const ops = await startOpsServer({
    host: config.IDENTITY_OPS_HOST,
    port: config.IDENTITY_OPS_PORT,
    registry,
    readiness: async () => {
      await pool.query('SELECT 1');
      keyRing.signingKey();
      return { database: 'ok', signingKey: 'ok' };
    },
  });
  const shutdownSteps: ShutdownStep[] = [
    { name: 'timers', run: async () => stops.forEach((stop) => stop()) },
    { name: 'http', run: () => app.close() },
    { name: 'ops', run: () => ops.close() },
    { name: 'database pool', run: () => pool.end() },
  ];
  let stopping: Promise<void> | undefined;
  return {
    app, httpPort, opsPort: ops.port, pool, keyRing, metrics, shutdownSteps,
    info: { httpPort, opsPort: ops.port, issuer: config.IDENTITY_ISSUER, https: httpsProvider !== null, database: redactUrl(config.DATABASE_URL), devUsers: config.IDENTITY_SEED_DEV_USERS },
    stop: () => {
      stopping ??= (async () => {
        for (const step of shutdownSteps) await step.run();
      })();
      return stopping;
    },
  };
}
