// Runs the services the way docker-compose.yml runs them, but natively: each
// from the folder its Dockerfile replay produced, with the environment the
// compose file gives it, addresses of Compose services mapped to the local
// infrastructure (PostgreSQL, Kafka from the test environment; ClickHouse via
// the chDB-backed HTTP stand-in), gated on the image's own HEALTHCHECK.
// Secrets: a folder of this run made by scripts/secrets.mjs (as
// `npm run secrets:generate` makes deploy/secrets/), each /run/secrets path
// mapped to its file there.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startClickHouseServer } from '../lib/clickhouse-server.mjs';
import { findValkeyServer } from '../lib/valkey.mjs';
import { generateSecrets } from '../secrets.mjs';
import { loadCompose, mapSecretPaths, secretMounts, serviceEnvironment } from './compose-model.mjs';

/** Compose services built from a Dockerfile in this repository, in dependency order. */
export function appServices(model) {
  const built = Object.entries(model.services).filter(([, s]) => s.build && !s.profiles?.length);
  const names = new Set(built.map(([n]) => n));
  const order = [];
  const visit = (name, trail = []) => {
    if (order.includes(name) || !names.has(name)) return;
    if (trail.includes(name)) throw new Error(`depends_on cycle: ${[...trail, name].join(' -> ')}`);
    for (const dep of dependencyNames(model.services[name])) visit(dep, [...trail, name]);
    order.push(name);
  };
  for (const [name] of built) visit(name);
  return order;
}

export function dependencyNames(service) {
  const deps = service.depends_on ?? {};
  return Array.isArray(deps) ? deps : Object.keys(deps);
}

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Executes a psql script (as the postgres image runs /docker-entrypoint-initdb.d/*.sql):
 * supports `\getenv var ENV` and `:'var'` / `:"var"` / `:var` interpolation; anything
 * else psql-specific is an error, so the replay never pretends.
 */
export async function runPsqlScript(client, text, env, fileName = 'script.sql') {
  const vars = {};
  const statements = [];
  let current = '';
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line.startsWith('--') || line === '') continue;
    if (line.startsWith('\\')) {
      const m = /^\\getenv\s+(\w+)\s+(\w+)$/.exec(line);
      if (!m) throw new Error(`${fileName}:${index + 1}: unsupported psql meta-command ${line}`);
      if (env[m[2]] !== undefined) vars[m[1]] = env[m[2]];
      continue;
    }
    current += `${raw}\n`;
    if (/;\s*$/.test(line)) {
      statements.push({ sql: current, line: index + 1 });
      current = '';
    }
  }
  if (current.trim()) statements.push({ sql: current, line: -1 });
  for (const { sql, line } of statements) {
    const expanded = sql.replace(/(?<!:):(['"]?)([A-Za-z_]\w*)\1/g, (match, quote, name) => {
      if (!(name in vars)) throw new Error(`${fileName}:${line}: psql variable ${name} is not set (psql would stop here)`);
      const value = vars[name];
      if (quote === "'") return `'${value.replace(/'/g, "''")}'`;
      if (quote === '"') return `"${value.replace(/"/g, '""')}"`;
      return value;
    });
    await client.query(expanded);
  }
}

/** The value after `flag` in a compose `command` list. */
function commandOption(command, flag) {
  const list = Array.isArray(command) ? command : String(command ?? '').split(/\s+/);
  const index = list.indexOf(flag);
  return index >= 0 ? list[index + 1] : undefined;
}

/**
 * Runs the postgres image's sourced init scripts (*.sh, not executable) as its
 * entrypoint does, in a shell with `env`, and returns the environment they
 * leave for the .sql files that follow.
 */
function sourceInitScript(file, env) {
  const result = spawnSync('sh', ['-c', '. "$0" && env -0', file], { env, encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) throw new Error(`${file}: exited ${result.status ?? result.signal}: ${result.stderr.trim()}`);
  return Object.fromEntries(
    result.stdout
      .split('\0')
      .filter(Boolean)
      .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
  );
}

/**
 * Stands in for the compose `valkey` service: a local server on a free
 * loopback port with the same ACL file (its password's hash, from the
 * service's command, mapped to this run's secrets) and no persistence
 * (scripts/lib/valkey.mjs starts one without a password). Resolves with its
 * address once it is ready.
 */
async function startValkey(service, log, mapPath) {
  // On PATH, else installed from the distribution's packages (scripts/lib/valkey.mjs).
  const binary = findValkeyServer({ log });
  if (!binary) throw new Error('the compose stack has a valkey service: install valkey-server or redis-server (Debian: apt-get install redis-server) to replay it');
  const port = await freePort();
  const aclFile = commandOption(service.command, '--aclfile');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...(aclFile ? ['--aclfile', mapPath(aclFile)] : [])];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => (output = (output + c.toString()).slice(-4000)));
  child.stderr.on('data', (c) => (output = (output + c.toString()).slice(-4000)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await waitExit(child);
    clearTimeout(timer);
  };
  const deadline = Date.now() + 15_000;
  while (!/[Rr]eady to accept connections/.test(output)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${binary} did not start on ${port}: ${output.slice(-1000)}`);
    }
    await sleep(50);
  }
  log(`valkey: ${binary} on 127.0.0.1:${port}`);
  return { address: `127.0.0.1:${port}`, stop };
}

function waitExit(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

async function runOnce(cmd, { cwd, env, timeoutMs }) {
  const child = spawn(cmd[0], cmd.slice(1), { cwd, env, stdio: 'ignore' });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise((resolve) => {
    child.on('error', () => resolve(-1));
    child.on('exit', (c) => resolve(c));
  });
  clearTimeout(timer);
  return code;
}

function durationMs(text, fallback) {
  const m = /^(\d+)(ms|s|m)$/.exec(text ?? '');
  if (!m) return fallback;
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2]];
}

/**
 * @param {{ root: string, builds: Record<string, import('./replay.mjs').StageResult>, adminUrl: string,
 *   kafkaBrokers?: string, log?: (line: string) => void, healthTimeoutMs?: number, runDir: string }} options
 */
export async function startNativeStack(options) {
  const log = options.log ?? (() => {});
  const cleanups = [];
  const running = {};
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((error) => log(`cleanup: ${error.message}`));
    cleanups.length = 0;
  };
  try {
    // Unique database names and roles, through the same .env keys Compose would read.
    const suffix = randomBytes(4).toString('hex');
    const first = loadCompose(options.root);
    const overrides = {};
    for (const [key, value] of Object.entries(first.dotenv)) {
      if (/_DB_(NAME|USER)$/.test(key)) overrides[key] = `${value}_replay_${suffix}`;
    }
    const { model } = loadCompose(options.root, { env: overrides });
    // This run's secrets: new passwords, and connection URLs with its database names and roles.
    const secretsDir = join(options.runDir, 'secrets');
    await generateSecrets({ dir: secretsDir, env: overrides });
    const localEnv = (name) => mapSecretPaths(serviceEnvironment(model.services[name]), secretMounts(model, model.services[name]), { root: options.root, secretsDir });

    // PostgreSQL: the image's init scripts, applied to the local server.
    const admin = new URL(options.adminUrl);
    let pgEnv = { PATH: process.env.PATH ?? '', ...localEnv('postgres') };
    const initDir = join(options.root, 'deploy', 'postgres', 'initdb');
    const adminClient = new pg.Client({ connectionString: options.adminUrl, connectionTimeoutMillis: 10_000 });
    await adminClient.connect();
    cleanups.push(async () => {
      // Drop what the init scripts created (names carry this run's suffix).
      const dbs = await adminClient.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`%_replay_${suffix}`]);
      for (const { datname } of dbs.rows) await adminClient.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
      const roles = await adminClient.query('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [`%_replay_${suffix}`]);
      for (const { rolname } of roles.rows) await adminClient.query(`DROP ROLE IF EXISTS "${rolname}"`);
      await adminClient.end();
    });
    for (const file of readdirSync(initDir).filter((f) => f.endsWith('.sql') || f.endsWith('.sh')).sort()) {
      log(`postgres init: ${file}`);
      if (file.endsWith('.sh')) {
        // The entrypoint runs an executable script and sources the others; ours are all sourced.
        if (statSync(join(initDir, file)).mode & 0o111) throw new Error(`${file}: executable, so the postgres entrypoint would not source it`);
        pgEnv = sourceInitScript(join(initDir, file), pgEnv);
      } else {
        await runPsqlScript(adminClient, readFileSync(join(initDir, file), 'utf8'), pgEnv, file);
      }
    }

    // ClickHouse: chDB behind the HTTP interface, when a service talks to the clickhouse service.
    const addresses = new Map([[`postgres:5432`, `${admin.hostname}:${admin.port || 5432}`]]);
    if (options.kafkaBrokers) addresses.set('kafka:9092', options.kafkaBrokers);
    if (model.services.clickhouse) {
      const clickhouse = await startClickHouseServer({ dataDir: join(options.runDir, 'clickhouse'), log });
      cleanups.push(clickhouse.stop);
      addresses.set('clickhouse:8123', `127.0.0.1:${clickhouse.port}`);
    }

    // The gateway's rate-limit store: a local Valkey/Redis with the compose password.
    if (model.services.valkey) {
      const mapPath = (path) => mapSecretPaths({ path }, secretMounts(model, model.services.valkey), { root: options.root, secretsDir }).path;
      const valkey = await startValkey(model.services.valkey, log, mapPath);
      cleanups.push(valkey.stop);
      addresses.set('valkey:6379', valkey.address);
    }

    // Every service's ports first (others' addresses refer to them), then environments.
    const order = appServices(model).filter((name) => options.builds[name]);
    const envs = {};
    for (const name of order) {
      const env = localEnv(name);
      for (const [key, value] of Object.entries(env)) {
        if (/_PORT$/.test(key) && /^\d+$/.test(value)) {
          const port = await freePort();
          addresses.set(`${name}:${value}`, `127.0.0.1:${port}`);
          env[key] = String(port);
        }
      }
      envs[name] = env;
    }
    const composeNames = Object.keys(model.services);
    // Connection URLs in the secret files name Compose services too (postgres:5432, valkey:6379, ...).
    for (const file of readdirSync(secretsDir).filter((f) => !f.endsWith('.pem') && !f.startsWith('.'))) {
      const path = join(secretsDir, file);
      if (!statSync(path).isFile()) continue;
      let content = readFileSync(path, 'utf8');
      for (const [from, to] of addresses) content = content.split(`@${from}`).join(`@${to}`);
      // The local server may demand TLS (npm test's does): its URL's settings (sslmode, sslrootcert) too.
      if (/^postgres(ql)?:\/\//.test(content)) {
        const url = new URL(content.trim());
        for (const [key, value] of admin.searchParams) url.searchParams.set(key, value);
        content = `${url.href}\n`;
      }
      writeFileSync(path, content);
    }
    for (const name of order) {
      const env = envs[name];
      for (const [key, value] of Object.entries(env)) {
        let mapped = value;
        for (const [from, to] of addresses) mapped = mapped.split(from).join(to);
        // Only loopback addresses here; a container listens on 0.0.0.0.
        if (/_HOST$/.test(key) && mapped === '0.0.0.0') mapped = '127.0.0.1';
        const leftover = composeNames.find((n) => new RegExp(`(^|[/@,])${n.replace(/[-.]/g, '\\$&')}(:|$)`).test(mapped));
        if (leftover) throw new Error(`${name}: ${key}=${mapped} refers to Compose service ${leftover}, which the native replay has no local address for`);
        // The local server requires TLS (scripts/lib/postgres.mjs): its URLs take the admin URL's sslmode/sslrootcert.
        if (/^postgres(ql)?:\/\//.test(mapped) && mapped.includes(`@${addresses.get('postgres:5432')}/`) && !/[?&]sslmode=/.test(mapped)) {
          const tls = new URLSearchParams([...admin.searchParams].filter(([param]) => param === 'sslmode' || param === 'sslrootcert'));
          if (tls.size > 0) mapped += `${mapped.includes('?') ? '&' : '?'}${tls}`;
        }
        env[key] = mapped;
      }
    }

    for (const name of order) {
      const build = options.builds[name];
      if (!build.cmd) throw new Error(`${name}: the image has no CMD`);
      const cwd = join(build.root, build.workdir);
      // Exactly what the container would see: the image's ENV and Compose's
      // environment (plus PATH, to find node); nothing leaks in from this machine.
      const env = { PATH: process.env.PATH ?? '', ...build.env, ...envs[name] };
      log(`${name}: starting ${build.cmd.join(' ')} in ${cwd}`);
      const child = spawn(build.cmd[0], build.cmd.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
      const logs = [];
      const capture = (chunk) => {
        for (const line of chunk.toString().split('\n')) {
          if (!line) continue;
          logs.push(line);
          if (logs.length > 500) logs.shift();
          if (process.env.REPLAY_SERVICE_LOGS === '1') log(`[${name}] ${line}`);
        }
      };
      child.stdout.on('data', capture);
      child.stderr.on('data', capture);
      running[name] = { child, env, logs, cwd };
      cleanups.push(async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await waitExit(child);
        clearTimeout(timer);
      });
      if (!build.healthcheck) throw new Error(`${name}: the image has no HEALTHCHECK`);
      const started = Date.now();
      const deadline = started + (options.healthTimeoutMs ?? 90_000);
      const attemptTimeoutMs = durationMs(build.healthcheck.flags.timeout, 5000);
      let healthy = false;
      while (Date.now() < deadline) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before its health check passed:\n${logs.slice(-40).join('\n')}`);
        }
        const code = await runOnce(build.healthcheck.cmd, { cwd, env, timeoutMs: attemptTimeoutMs });
        if (code === 0) {
          healthy = true;
          break;
        }
        await sleep(500);
      }
      if (!healthy) throw new Error(`${name}: HEALTHCHECK did not pass within ${options.healthTimeoutMs ?? 90_000} ms:\n${logs.slice(-40).join('\n')}`);
      running[name].healthyAfterMs = Date.now() - started;
      log(`${name}: healthy after ${running[name].healthyAfterMs} ms`);
    }
    return { services: running, order, stop, model };
  } catch (error) {
    await stop();
    throw error;
  }
}

