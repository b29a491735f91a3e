#!/usr/bin/env node
// Every secret the Docker Compose stack mounts (`secrets:` in docker-compose.yml),
// generated in one command and never committed (deploy/secrets/ is git-ignored):
//   npm run secrets:generate                 create what is missing, keep the rest
//   npm run secrets:generate -- --force      replace every secret (new passwords, new CA)
//   npm run secrets:generate -- --dir <dir>  somewhere else (the native replay uses its own)
// Idempotent: an existing secret is never overwritten without --force. Files
// derived from secrets (database URLs, the Valkey ACL file, the Redis and
// ClickHouse URLs) are rewritten whenever their inputs changed (a new password,
// or a database name/user changed in .env). Certificates come from the
// development PKI (scripts/lib/pki.mjs); to bring your own CA, replace the files
// under tls/ (docs/docker.md).
//
// Permissions: the directory is 0700 (nobody else on this machine can reach the
// files); the files are 0644 because Compose bind-mounts a file secret with its
// host owner and mode (its uid/gid/mode options are ignored outside Swarm), and
// the containers read them as other users (postgres and valkey 999, node 1000).
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseDotenv } from './check-deploy/compose-model.mjs';
import { ensurePki, SERVICE_NAMES } from './lib/pki.mjs';

/** Infrastructure servers of the stack with a (server-only) certificate of the same CA. */
export const INFRA_SERVERS = Object.freeze(['postgres']);
import { root } from './lib/paths.mjs';

export const SECRETS_DIR_DEFAULT = path.join(root, 'deploy', 'secrets');
const DIR_MODE = 0o700;
const FILE_MODE = 0o644;
/** 32 random bytes, base64url: 43 URL-safe characters (fit in connection URLs as they are). */
const SECRET_BYTES = 32;

/** Random secrets, by file name (what reads each one: docker-compose.yml). */
export const RANDOM_SECRETS = Object.freeze([
  'postgres-password',
  'bank-db-password',
  'card-adapter-db-password',
  'payment-gateway-mock-db-password',
  'identity-db-password',
  'webhook-db-password',
  'clickhouse-password',
  'valkey-password',
  'card-fingerprint-secret',
  'identity-key-encryption-secret',
  'payment-gateway-api-key',
  // The Grafana admin's password (profile `observability`).
  'grafana-admin-password',
]);

/**
 * Random keys read as standard base64 of 32 bytes (with + and /, not URL-safe): the
 * webhook-service's key that encrypts endpoints' signing secrets at rest.
 */
export const BASE64_KEY_SECRETS = Object.freeze(['webhook-secret-key']);

/** One PostgreSQL database per service: its password file and the .env names of its database and role. */
const DATABASES = Object.freeze([
  { url: 'bank-database-url', password: 'bank-db-password', prefix: 'BANK', db: 'bank', user: 'bank_service' },
  { url: 'card-adapter-database-url', password: 'card-adapter-db-password', prefix: 'CARD_ADAPTER', db: 'card_adapter', user: 'card_adapter' },
  {
    url: 'payment-gateway-mock-database-url',
    password: 'payment-gateway-mock-db-password',
    prefix: 'PAYMENT_GATEWAY_MOCK',
    db: 'payment_gateway_mock',
    user: 'payment_gateway_mock',
  },
  { url: 'identity-database-url', password: 'identity-db-password', prefix: 'IDENTITY', db: 'identity', user: 'identity' },
  { url: 'webhook-database-url', password: 'webhook-db-password', prefix: 'WEBHOOK', db: 'webhooks', user: 'webhook_service' },
]);

const newSecret = () => randomBytes(SECRET_BYTES).toString('base64url');

/** Writes atomically (temporary file + rename): for files no container has mounted yet. */
function writeNew(file, content) {
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(temporary, content, { mode: FILE_MODE });
  chmodSync(temporary, FILE_MODE);
  renameSync(temporary, file);
}

/**
 * Replaces the content of a file in place (same inode). A running container
 * has the file bind-mounted by inode: a rename would leave it the old file,
 * an in-place write is what it sees on its next reload.
 */
function writeInPlace(file, content) {
  if (!existsSync(file)) return writeNew(file, content);
  writeFileSync(file, content, { mode: FILE_MODE });
  chmodSync(file, FILE_MODE);
}

const read = (file) => (existsSync(file) ? readFileSync(file, 'utf8') : undefined);

/** Names from .env, overridden by the environment (as Compose interpolates them). */
function composeVariables(env) {
  const dotenvFile = path.join(root, '.env');
  const dotenv = existsSync(dotenvFile) ? parseDotenv(readFileSync(dotenvFile, 'utf8')) : {};
  const merged = { ...dotenv };
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== '') merged[key] = value;
  return merged;
}

/** What is derived from the secrets: written whenever it differs from what is on disk. */
function derivedFiles(dir, vars) {
  const secret = (name) => readFileSync(path.join(dir, name), 'utf8').trim();
  const files = {};
  for (const d of DATABASES) {
    const user = vars[`${d.prefix}_DB_USER`] || d.user;
    const db = vars[`${d.prefix}_DB_NAME`] || d.db;
    // TLS to PostgreSQL, its certificate checked against the CA and the name `postgres` (the CA is mounted there).
    files[d.url] = `postgresql://${encodeURIComponent(user)}:${secret(d.password)}@postgres:5432/${encodeURIComponent(db)}?sslmode=verify-full&sslrootcert=/run/secrets/tls-ca.pem\n`;
  }
  const valkey = secret('valkey-password');
  // Valkey stores only the SHA-256 of the password (ACL `#<hash>`): the server never holds it.
  files['valkey-users.acl'] = `user default on #${createHash('sha256').update(valkey).digest('hex')} ~* &* +@all\n`;
  // The ACL's user by name: every client library then authenticates the same way (AUTH default <password>).
  files['gateway-redis-url'] = `redis://default:${valkey}@valkey:6379\n`;
  const clickhouseUser = vars.CLICKHOUSE_USER || 'analytics';
  files['analytics-clickhouse-url'] = `http://${encodeURIComponent(clickhouseUser)}:${secret('clickhouse-password')}@clickhouse:8123\n`;
  return files;
}

/**
 * The CA and one certificate per service (SAN = its compose service name) and
 * per infrastructure server (PostgreSQL: server authentication only),
 * made by the development PKI under .pki/ and copied in place to tls/, the
 * files compose mounts (so a renewed certificate reaches running containers).
 * A file under tls/ that is not the PKI's own copy was put there by an
 * operator (their own CA) and is left alone, --force or not.
 */
async function tlsFiles(dir, { force, now }) {
  const pkiDir = path.join(dir, '.pki');
  const tlsDir = path.join(dir, 'tls');
  const pairs = (pki) => [
    [pki.caFile, path.join(tlsDir, 'ca.pem')],
    // Key first: a service reloading between the two writes sees a mismatched pair and keeps its current one.
    ...[...SERVICE_NAMES, ...INFRA_SERVERS].flatMap((name) => [
      [path.join(pkiDir, `${name}-key.pem`), path.join(tlsDir, `${name}-key.pem`)],
      [path.join(pkiDir, `${name}.pem`), path.join(tlsDir, `${name}.pem`)],
    ]),
  ];
  const before = new Map(pairs({ caFile: path.join(pkiDir, 'ca.pem') }).map(([from, to]) => [to, read(from)]));
  // Without its CA file the PKI starts over: a new CA, and every certificate re-issued by it.
  if (force) rmSync(path.join(pkiDir, 'ca.pem'), { force: true });
  const pki = await ensurePki({ dir: pkiDir, services: SERVICE_NAMES, infra: INFRA_SERVERS, now });
  mkdirSync(tlsDir, { recursive: true, mode: DIR_MODE });
  const created = [];
  const rewritten = [];
  const foreign = [];
  const isForeign = (to) => read(to) !== undefined && read(to) !== before.get(to);
  const foreignBefore = new Set(pairs(pki).map(([, to]) => to).filter(isForeign));
  for (const [from, to] of pairs(pki)) {
    const content = readFileSync(from, 'utf8');
    const current = read(to);
    if (current === content) continue;
    const name = path.relative(dir, to);
    // A certificate and its key go together: one of them the operator's keeps both.
    const partner = to.endsWith('-key.pem') ? to.replace(/-key\.pem$/, '.pem') : to.replace(/\.pem$/, '-key.pem');
    if (foreignBefore.has(to) || (path.basename(to) !== 'ca.pem' && foreignBefore.has(partner))) {
      foreign.push(name);
      continue;
    }
    (current === undefined ? created : rewritten).push(name);
    writeInPlace(to, content);
  }
  return { created, rewritten, foreign };
}

/**
 * Creates or completes the secrets folder.
 * @param {{ dir?: string, force?: boolean, env?: NodeJS.ProcessEnv, now?: number }} [options]
 * @returns {Promise<{ dir: string, created: string[], rewritten: string[], kept: string[], foreign: string[] }>}
 * (foreign: files under tls/ that are not the development PKI's, left as they are)
 */
export async function generateSecrets({ dir = SECRETS_DIR_DEFAULT, force = false, env = process.env, now = Date.now() } = {}) {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  chmodSync(dir, DIR_MODE);
  const created = [];
  const rewritten = [];
  const kept = [];
  for (const name of [...RANDOM_SECRETS, ...BASE64_KEY_SECRETS]) {
    const file = path.join(dir, name);
    if (existsSync(file) && read(file).trim() !== '' && !force) {
      kept.push(name);
      continue;
    }
    (existsSync(file) ? rewritten : created).push(name);
    writeInPlace(file, `${BASE64_KEY_SECRETS.includes(name) ? randomBytes(SECRET_BYTES).toString('base64') : newSecret()}\n`);
  }
  for (const [name, content] of Object.entries(derivedFiles(dir, composeVariables(env)))) {
    const file = path.join(dir, name);
    const before = read(file);
    if (before === content) continue;
    (before === undefined ? created : rewritten).push(name);
    writeInPlace(file, content);
  }
  const tls = await tlsFiles(dir, { force, now });
  created.push(...tls.created);
  rewritten.push(...tls.rewritten);
  return { dir, created, rewritten, kept, foreign: tls.foreign };
}

/** True when the folder compose mounts from is missing or incomplete. */
export function secretsMissing(dir = SECRETS_DIR_DEFAULT) {
  const needed = [...RANDOM_SECRETS, ...BASE64_KEY_SECRETS, ...DATABASES.map((d) => d.url), 'valkey-users.acl', 'gateway-redis-url', 'analytics-clickhouse-url', 'tls/ca.pem'];
  needed.push(...[...SERVICE_NAMES, ...INFRA_SERVERS].flatMap((s) => [`tls/${s}.pem`, `tls/${s}-key.pem`]));
  return needed.filter((name) => !existsSync(path.join(dir, name)));
}

async function main() {
  const { values } = parseArgs({ options: { force: { type: 'boolean', default: false }, dir: { type: 'string' } } });
  const dir = values.dir ? path.resolve(values.dir) : SECRETS_DIR_DEFAULT;
  const result = await generateSecrets({ dir, force: values.force });
  const rel = path.relative(process.cwd(), result.dir) || '.';
  // Names only: a secret's value is never printed.
  if (result.created.length) console.log(`secrets: created in ${rel}: ${result.created.join(', ')}`);
  if (result.rewritten.length) console.log(`secrets: rewrote in ${rel}: ${result.rewritten.join(', ')}`);
  if (result.foreign.length) console.log(`secrets: left as they are (not from the development PKI: your own CA?): ${result.foreign.join(', ')}`);
  if (!result.created.length && !result.rewritten.length) console.log(`secrets: ${rel} complete, nothing changed (--force replaces every secret)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error) => {
    console.error(`secrets: ${error.message}`);
    process.exit(1);
  });
}
