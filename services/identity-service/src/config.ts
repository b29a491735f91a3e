import { ConfigError, env, loadConfigWithSecrets, type SecretSpecs } from '@wallet/platform';
import { tlsConfigShape, tlsOptionsFromConfig, type ReloadingCertificateProviderOptions } from '@wallet/platform/tls';
import { z } from 'zod';
import { DEV_CLIENT_SECRET, readClientsFile } from './app/users.js';

/** Access tokens live at most 15 minutes (issue 10): a stolen one is useful only briefly. */
export const ACCESS_TOKEN_TTL_SECONDS_MAX = 900;

/** Used only outside production so `npm start` works with no setup; production must set its own. */
export const DEV_KEY_ENCRYPTION_SECRET = 'dev-only-identity-key-encryption-secret-change-me';
/** The local database of `npm start`; production refuses it (it names the well-known postgres password). */
export const DEV_DATABASE_URL = 'postgres://postgres:postgres@127.0.0.1:5432/wallet';

/** The gateway serves the web app at /app/ and the console at /console/ on port 8080 locally. */
export const DEFAULT_WEB_REDIRECT_URIS = [
  'http://localhost:8080/app/callback',
  'http://127.0.0.1:8080/app/callback',
  'http://localhost:8080/console/callback',
  'http://127.0.0.1:8080/console/callback',
] as const;
export const WEB_REDIRECT_URIS_MAX = 20;

/** The configured redirect URIs (already validated by loadIdentityConfig). */
export function webRedirectUris(config: Pick<SchemaConfig, 'IDENTITY_WEB_REDIRECT_URIS'>): string[] {
  return config.IDENTITY_WEB_REDIRECT_URIS.split(',').map((uri) => uri.trim()).filter((uri) => uri !== '');
}

/** The configured post-logout URIs, or the folder of each redirect URI (…/app/callback -> …/app/). */
export function webPostLogoutRedirectUris(config: Pick<SchemaConfig, 'IDENTITY_WEB_REDIRECT_URIS' | 'IDENTITY_WEB_POST_LOGOUT_REDIRECT_URIS'>): string[] {
  const configured = config.IDENTITY_WEB_POST_LOGOUT_REDIRECT_URIS;
  if (configured === undefined) {
    const folders = webRedirectUris(config).flatMap((uri) => {
      const url = URL.canParse(uri) ? new URL(uri) : undefined;
      // Only http(s) redirect URIs have a folder; the others are reported as bad redirect URIs.
      return url && (url.protocol === 'http:' || url.protocol === 'https:') ? [new URL('./', url).toString()] : [];
    });
    return [...new Set(folders)];
  }
  return configured.split(',').map((uri) => uri.trim()).filter((uri) => uri !== '');
}

/** Absolute http(s) URLs without a fragment (RFC 6749 3.1.2), at most 512 characters. */
function redirectUriProblems(config: SchemaConfig): string[] {
  return [
    ...uriListProblems('IDENTITY_WEB_REDIRECT_URIS', webRedirectUris(config)),
    ...uriListProblems('IDENTITY_WEB_POST_LOGOUT_REDIRECT_URIS', webPostLogoutRedirectUris(config)),
  ];
}

function uriListProblems(variable: string, uris: string[]): string[] {
  if (uris.length > WEB_REDIRECT_URIS_MAX) return [`${variable}: at most ${WEB_REDIRECT_URIS_MAX} URIs`];
  const bad = uris.filter((uri) => {
    if (uri.length > 512 || !URL.canParse(uri)) return true;
    const url = new URL(uri);
    return (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hash !== '' || uri.includes('#') || url.username !== '' || url.password !== '';
  });
  return bad.length === 0 ? [] : [`${variable}: not an absolute http(s) URL without fragment: ${bad.map((uri) => uri.slice(0, 80)).join(', ')}`];
}

// The HTTPS server's files: the service certificate (SAN identity-service), its key and the CA.
// WALLET_TEST_GRPC_PLAINTEXT is a gRPC bench hook and means nothing here.
const { WALLET_TEST_GRPC_PLAINTEXT: _grpcOnly, ...httpsTlsShape } = tlsConfigShape;

/**
 * Every environment variable the identity service reads, with a default that
 * works locally. Exported so the compose check can compare it with compose files.
 */
export const configSchema = z.object({
  NODE_ENV: z.string().default('development'),
  LOG_LEVEL: env.logLevel(),
  IDENTITY_HTTP_HOST: env.host('127.0.0.1'),
  IDENTITY_HTTP_PORT: env.port(8090),
  IDENTITY_OPS_HOST: env.host('127.0.0.1'),
  IDENTITY_OPS_PORT: env.port(9105),
  /** Default: http(s)://127.0.0.1:<IDENTITY_HTTP_PORT>, https when the TLS files are set. */
  IDENTITY_ISSUER: z.url({ protocol: /^https?$/ }).optional(),
  IDENTITY_AUDIENCE: env.string('wallet-api'),
  /** Secret (carries the password): DATABASE_URL or DATABASE_URL_FILE; a file in production. */
  DATABASE_URL: z.string().min(1),
  IDENTITY_DATABASE_CONNECTIONS_MAX: env.int(5, 1, 100),
  IDENTITY_DATABASE_STATEMENT_TIMEOUT_MS: env.int(5_000, 100, 60_000),
  IDENTITY_MIGRATE_ON_START: env.bool(true),
  IDENTITY_ACCESS_TOKEN_TTL_SECONDS: env.int(ACCESS_TOKEN_TTL_SECONDS_MAX, 5, ACCESS_TOKEN_TTL_SECONDS_MAX),
  IDENTITY_REFRESH_TOKEN_TTL_SECONDS: env.int(30 * 24 * 3600, 60, 365 * 24 * 3600),
  /** Consecutive failed logins of one username (within the window) that lock it. */
  IDENTITY_LOGIN_FAILURES_MAX: env.int(10, 1, 1_000),
  IDENTITY_LOGIN_FAILURE_WINDOW_MS: env.int(15 * 60_000, 1_000, 24 * 3_600_000),
  /** How long a lock lasts; it always expires (an attacker cannot lock a user out for good). */
  IDENTITY_LOGIN_LOCK_MS: env.int(15 * 60_000, 1_000, 24 * 3_600_000),
  /** Password hashes computed at once (argon2id is CPU- and memory-heavy). */
  IDENTITY_PASSWORD_HASH_CONCURRENCY_MAX: env.int(2, 1, 64),
  /** Hash requests waiting for a slot; beyond this the request is refused with 503. */
  IDENTITY_PASSWORD_HASH_QUEUE_MAX: env.int(32, 0, 10_000),
  /** A request waiting longer than this for a hashing slot is refused with 503. */
  IDENTITY_PASSWORD_HASH_QUEUE_WAIT_MS_MAX: env.int(5_000, 10, 60_000),
  /** argon2id memory in KiB (OWASP: 19 MiB with t=2, p=1). */
  IDENTITY_ARGON2_MEMORY_KIB: env.int(19_456, 1_024, 1_048_576),
  IDENTITY_ARGON2_ITERATIONS: env.int(2, 1, 20),
  IDENTITY_BODY_BYTES_MAX: env.int(8 * 1024, 1_024, 1024 * 1024),
  IDENTITY_HTTP_REQUEST_TIMEOUT_MS: env.int(15_000, 1_000, 120_000),
  /** Secret that encrypts the private signing keys stored in the database (AES-256-GCM); a file in production. */
  IDENTITY_KEY_ENCRYPTION_SECRET: env.optionalString(),
  /** Secret of the dev-back-office client seeded with IDENTITY_SEED_DEV_USERS; a file in production. */
  IDENTITY_DEV_CLIENT_SECRET: z.string().min(16).max(128).optional(),
  /** PEM PKCS#8 private key (EC P-256 or Ed25519); when set, keys come from files, not the database. */
  IDENTITY_SIGNING_KEY_FILE: env.optionalString(),
  /** PEM of the previous key (public or private), still published until tokens it signed expire. */
  IDENTITY_SIGNING_KEY_PREVIOUS_FILE: env.optionalString(),
  IDENTITY_SIGNING_KEY_ALGORITHM: z.enum(['ES256', 'EdDSA']).default('ES256'),
  /** A database key older than this is replaced by a new one; 0 = rotate only by command. */
  IDENTITY_SIGNING_KEY_ROTATION_INTERVAL_MS: env.int(30 * 24 * 3_600_000, 0, 365 * 24 * 3_600_000),
  /** How often each replica reloads the keys (and rotates when due). */
  IDENTITY_SIGNING_KEY_REFRESH_MS: env.int(60_000, 100, 3_600_000),
  /** JSON file [{clientId, clientSecret, roles, scopes}] of back-office/service clients, upserted at start. */
  IDENTITY_CLIENTS_FILE: env.optionalString(),
  /** First-party public clients that may use the password grant with a client_id and no secret. */
  IDENTITY_PUBLIC_CLIENT_IDS: env.string('wallet-cli,swagger-ui'),
  /** The browser app's public client (authorization code + PKCE only; no secret, no password grant). */
  IDENTITY_WEB_CLIENT_ID: env.string('wallet-web'),
  /** Its redirect URIs, comma-separated, matched exactly (RFC 6749 3.1.2; OAuth Security BCP 4.1). */
  IDENTITY_WEB_REDIRECT_URIS: env.string(DEFAULT_WEB_REDIRECT_URIS.join(',')),
  /**
   * Where the app may ask to return after sign-out (GET /auth/logout), comma-separated, matched exactly.
   * Unset: the folder of each redirect URI (http://localhost:8080/app/callback -> http://localhost:8080/app/).
   */
  IDENTITY_WEB_POST_LOGOUT_REDIRECT_URIS: env.optionalString(),
  /** The sign-in page's session (a page reload signs in again without the form): absolute lifetime. */
  IDENTITY_SESSION_ABSOLUTE_TTL_SECONDS: env.int(12 * 3600, 60, 30 * 24 * 3600),
  /** ... and how long it lives without use. */
  IDENTITY_SESSION_IDLE_TTL_SECONDS: env.int(30 * 60, 60, 30 * 24 * 3600),
  /** Sessions kept per user (browsers); the oldest end when a new one starts. */
  IDENTITY_SESSIONS_PER_USER_MAX: env.int(20, 1, 1_000),
  /** The session cookie's Secure attribute: auto (when the browser uses https; always in production), true or false. */
  IDENTITY_SESSION_COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
  /** Lifetime of an authorization code (RFC 6749 4.1.2: short; 60 s). */
  IDENTITY_AUTHORIZATION_CODE_TTL_SECONDS: env.int(60, 5, 600),
  /** Seed the development users and the dev back-office client. Never on by default. */
  IDENTITY_SEED_DEV_USERS: env.bool(false),
  IDENTITY_SHUTDOWN_TIMEOUT_MS: env.int(5_000, 100, 120_000),
  ...httpsTlsShape,
});

type SchemaConfig = z.infer<typeof configSchema>;

/** Validated configuration: the schema's values with the issuer resolved and the HTTPS files (null: plain HTTP). */
export type Config = Omit<SchemaConfig, 'IDENTITY_ISSUER'> & {
  IDENTITY_ISSUER: string;
  tls: ReloadingCertificateProviderOptions | null;
};

/** Client secrets published in this repository: refused in production wherever a client secret is given. */
export const KNOWN_DEV_CLIENT_SECRETS: readonly string[] = [DEV_CLIENT_SECRET];

/**
 * Every secret the service reads (X or X_FILE; in production only X_FILE, never a dev default).
 * Depends on the environment: the key encryption secret is not needed when keys come from files,
 * and the dev client's secret only when the dev users are seeded.
 */
export function identitySecrets(source: NodeJS.ProcessEnv): SecretSpecs {
  const seeding = ['true', '1'].includes(source.IDENTITY_SEED_DEV_USERS ?? '');
  return {
    DATABASE_URL: { devDefault: DEV_DATABASE_URL },
    IDENTITY_KEY_ENCRYPTION_SECRET: { devDefault: DEV_KEY_ENCRYPTION_SECRET, required: !source.IDENTITY_SIGNING_KEY_FILE },
    IDENTITY_DEV_CLIENT_SECRET: { devDefault: DEV_CLIENT_SECRET, knownDevValues: KNOWN_DEV_CLIENT_SECRETS, required: seeding },
  };
}

/** Rules across variables that a field schema cannot say. */
function crossFieldProblems(config: SchemaConfig): string[] {
  const problems: string[] = [];
  if (config.IDENTITY_KEY_ENCRYPTION_SECRET !== undefined && config.IDENTITY_KEY_ENCRYPTION_SECRET.length < 32) {
    problems.push('IDENTITY_KEY_ENCRYPTION_SECRET: must be at least 32 characters');
  }
  if (config.NODE_ENV === 'production' && config.IDENTITY_SESSION_COOKIE_SECURE === 'false') {
    problems.push('IDENTITY_SESSION_COOKIE_SECURE: false is refused when NODE_ENV=production');
  }
  if (config.IDENTITY_SESSION_IDLE_TTL_SECONDS > config.IDENTITY_SESSION_ABSOLUTE_TTL_SECONDS) {
    problems.push('IDENTITY_SESSION_IDLE_TTL_SECONDS: may not exceed IDENTITY_SESSION_ABSOLUTE_TTL_SECONDS');
  }
  if (config.IDENTITY_SIGNING_KEY_PREVIOUS_FILE && !config.IDENTITY_SIGNING_KEY_FILE) {
    problems.push('IDENTITY_SIGNING_KEY_PREVIOUS_FILE: needs IDENTITY_SIGNING_KEY_FILE');
  }
  return problems;
}

/** The clients file read at start; in production no client may keep a secret published here. */
function clientsFileProblems(config: SchemaConfig): string[] {
  const file = config.IDENTITY_CLIENTS_FILE;
  if (file === undefined) return [];
  try {
    const clients = readClientsFile(file);
    if (config.NODE_ENV !== 'production') return [];
    const devSecrets = clients.filter((client) => KNOWN_DEV_CLIENT_SECRETS.includes(client.clientSecret)).map((client) => client.clientId);
    return devSecrets.length === 0 ? [] : [`IDENTITY_CLIENTS_FILE: client(s) ${devSecrets.join(', ')} use a known development secret, refused when NODE_ENV=production`];
  } catch (error) {
    // readClientsFile's message names the file and the bad entries, never a secret; JSON.parse's names neither.
    const why = error instanceof SyntaxError ? 'not valid JSON' : (error as Error).message.replace(/^IDENTITY_CLIENTS_FILE /, '');
    return [`IDENTITY_CLIENTS_FILE: ${why}`];
  }
}

/** The HTTPS files: optional locally (plain HTTP when none is set), required in production. */
function httpsOptions(source: NodeJS.ProcessEnv): { tls: ReloadingCertificateProviderOptions | null; problems: string[] } {
  const parsed = z.object(httpsTlsShape).safeParse(source);
  // A malformed value (e.g. TLS_RELOAD_INTERVAL_MS) is reported by the schema in loadConfigWithSecrets.
  if (!parsed.success) return { tls: null, problems: [] };
  try {
    return { tls: tlsOptionsFromConfig({ ...parsed.data, WALLET_TEST_GRPC_PLAINTEXT: false }, { required: source.NODE_ENV === 'production' }), problems: [] };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return { tls: null, problems: error.problems.map((problem) => problem.replace('(mutual TLS is required)', '(HTTPS is required when NODE_ENV=production)')) };
  }
}

/** Validates the environment once; every problem (secrets, schema, HTTPS files, clients file) in one ConfigError. */
export function loadIdentityConfig(source: NodeJS.ProcessEnv = process.env): Config {
  const https = httpsOptions(source);
  let config: SchemaConfig;
  try {
    config = loadConfigWithSecrets(configSchema, identitySecrets(source), source);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError([...error.problems, ...https.problems]);
    throw error;
  }
  const problems = [...crossFieldProblems(config), ...redirectUriProblems(config), ...clientsFileProblems(config), ...https.problems];
  if (problems.length > 0) throw new ConfigError(problems);
  const issuer = config.IDENTITY_ISSUER ?? `${https.tls ? 'https' : 'http'}://127.0.0.1:${config.IDENTITY_HTTP_PORT}`;
  return { ...config, IDENTITY_ISSUER: issuer, tls: https.tls };
}

/** The secret that encrypts stored private keys (loadIdentityConfig put the dev default in outside production). */
export function keyEncryptionSecret(config: Config): string {
  if (config.IDENTITY_KEY_ENCRYPTION_SECRET === undefined) throw new Error('IDENTITY_KEY_ENCRYPTION_SECRET: missing (needed when keys are kept in the database)');
  return config.IDENTITY_KEY_ENCRYPTION_SECRET;
}

/** The session cookie's Secure attribute: always in production, else as configured (auto: the browser's scheme). */
export function sessionCookieSecurity(config: Pick<Config, 'NODE_ENV' | 'IDENTITY_SESSION_COOKIE_SECURE'>): boolean | 'auto' {
  if (config.NODE_ENV === 'production' || config.IDENTITY_SESSION_COOKIE_SECURE === 'true') return true;
  return config.IDENTITY_SESSION_COOKIE_SECURE === 'false' ? false : 'auto';
}
