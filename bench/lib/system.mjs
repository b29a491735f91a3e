// Starts the whole wallet for one bench run, on loopback and free ports:
// a private PostgreSQL (data in a temp folder, the project's own settings
// from scripts/lib/postgres.mjs), a private Kafka broker (or KAFKA_BROKERS
// with --kafka-from-env), the services from their dist/ builds, launched as
// scripts/lib/system.mjs describes them; registers the bench users at the
// identity-service, seeds the accounts owned by them and bulk-loads the
// history store before the analytics-service opens it. Everything it starts,
// it stops.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKafka, ensureTopics } from '../../scripts/lib/kafka.mjs';
import { root } from '../../scripts/lib/paths.mjs';
import { ensurePostgres } from '../../scripts/lib/postgres.mjs';
import * as pkiLib from '../../scripts/lib/pki.mjs';
import { startClickHouseServer } from '../../scripts/lib/clickhouse-server.mjs';
import { createSystem, describeSystem, freePorts, freeReplicaPorts, SERVICE_NAMES } from '../../scripts/lib/system.mjs';
import { resolveAuthEndpoints } from './auth.mjs';
import { accountsByUser, readOwners, registerBenchUsers, usersFor } from './population.mjs';
import { trustCaForFetch } from './tls.mjs';
import { BENCH_WEBHOOK_ENV } from './webhooks.mjs';

/** Service key -> workspace name (scripts/lib/system.mjs). */
export const SERVICES = SERVICE_NAMES;

/**
 * The gateway's per-user and per-address rate limits, raised for the bench's
 * system: the bench measures the wallet, not the limiter, and sends hundreds
 * of requests per second per user from one address. The report says so.
 */
export const BENCH_RATE_LIMIT_ENV = Object.freeze({
  // Still on (its cost is part of the measurement), but far above what the bench sends.
  GATEWAY_RATE_LIMIT_USER_PER_MINUTE: '1000000',
  GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
});

/** Runs the bank-service's seed CLI; returns the created account ids (owned round the `owners` list when given). */
export function seedAccounts(databaseUrl, count, balance, owners = []) {
  const res = spawnSync(
    process.execPath,
    [
      join(root, 'services', 'bank-service', 'dist', 'cli', 'seed-accounts.js'),
      '--count',
      String(count),
      '--balance',
      balance,
      ...(owners.length > 0 ? ['--owners', owners.join(',')] : []),
    ],
    { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
  );
  if (res.status !== 0) throw new Error(`seed-accounts failed (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const ids = res.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  if (ids.length !== count) throw new Error(`seed-accounts printed ${ids.length} ids, expected ${count}`);
  return ids;
}

/**
 * Registers the bench users, seeds `count` accounts owned by them and the
 * three big accounts owned by the hot user; returns the accounts and the users.
 */
export async function seedPopulation({ endpoints, databaseUrl, count, log, registered }) {
  const { users, hot } = await (registered ?? registerBenchUsers(endpoints, usersFor(count), log));
  const ids = seedAccounts(databaseUrl, count, '1000.00', users.map((u) => u.userId));
  // Hot accounts (one sender, one recipient) and the history-heavy account get a large balance.
  const [hotSender, hotRecipient, heavyAccount] = seedAccounts(databaseUrl, 3, '100000000.00', [hot.userId]);
  const owners = await readOwners(databaseUrl, [...ids, hotSender, hotRecipient, heavyAccount]);
  accountsByUser(users, ids, owners);
  for (const id of [hotSender, hotRecipient, heavyAccount]) {
    if (owners.get(id) !== hot.userId) throw new Error(`hot account ${id} is not owned by ${hot.username}`);
  }
  hot.accountIds = [hotSender, hotRecipient, heavyAccount];
  return { accounts: { ids, hotSender, hotRecipient, heavyAccount }, users, hot };
}

/** Bulk-loads `rows` synthetic operations into the analytics chDB folder (child process). */
export async function loadHistory({ chdbPath, rows, accountIds, heavyAccountId, workDir, log }) {
  const optionsPath = join(workDir, 'history-load.json');
  writeFileSync(optionsPath, JSON.stringify({ chdbPath, database: 'wallet_analytics', rows, accountIds, heavyAccountId, heavyShare: 0.01 }));
  log(`history: bulk-loading ${rows.toLocaleString('en-US')} operations into chDB (${chdbPath})`);
  const child = spawn(process.execPath, [join(root, 'bench', 'lib', 'history-load.mjs'), optionsPath], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const code = await new Promise((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`history load failed (exit ${code}): ${err.slice(-1500)}`);
  return { ...JSON.parse(out.trim().split('\n').pop()), pid: child.pid };
}

/**
 * @param {{
 *   workDir: string, accounts: number, historyRows: number, kafkaFromEnv?: boolean,
 *   profileDir?: string, logDir?: string, log: (line: string) => void,
 *   onPopulation?: (system: object) => Promise<void>,   // runs while the last services start (the workers' logins)
 *   replicas?: number,   // instances of each of our services behind HAProxy (scripts/lib/system.mjs, C5); default 1
 * }} options
 */
export async function startSystem(options) {
  const { workDir, log } = options;
  const stops = [];
  const system = {
    processes: {},
    ports: {},
    env: {},
    async stop() {
      for (const stop of stops.splice(0).reverse()) await stop().catch((e) => log(`stop: ${e.message}`));
    },
  };
  try {
    const ports = await freePorts();
    system.ports = ports;
    // The run's own CA and certificates (mutual TLS between the services, PostgreSQL's TLS), in the temp folder.
    const pki = await pkiLib.ensurePki({ dir: join(workDir, 'pki'), infra: pkiLib.INFRA_NAMES ?? [] });
    system.pki = pki;
    const pgDir = join(workDir, 'postgres');
    const t0 = Date.now();
    const useEnvKafka = Boolean(options.kafkaFromEnv && process.env.KAFKA_BROKERS);
    const kafkaDataDir = join(workDir, 'kafka');
    const kafkaStarted = (async () => {
      const kafka = await ensureKafka({
        dataDir: kafkaDataDir,
        port: ports.kafka,
        controllerPort: ports.kafkaController,
        useEnv: useEnvKafka,
        log: (line) => log(`kafka: ${line}`),
      });
      stops.push(kafka.stop);
      await ensureTopics(kafka.brokers);
      log(`kafka up on ${kafka.brokers} (${kafka.external ? 'from KAFKA_BROKERS' : 'private broker'}) after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return kafka;
    })();
    // Keep the rejection handled while the other branch runs; awaited below.
    kafkaStarted.catch(() => {});

    // Never the developer's DATABASE_URL: the bench has its own server, data in workDir.
    const savedDatabaseUrl = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    let postgres;
    try {
      postgres = await ensurePostgres({ dataDir: pgDir, port: ports.postgres, databases: ['wallet'], pki, log: () => {} });
    } finally {
      if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
    }
    stops.push(postgres.stop);
    const databaseUrl = postgres.urlFor('wallet');
    system.databaseUrl = databaseUrl;
    system.postgresDataDir = pgDir;
    log(`postgres up on 127.0.0.1:${ports.postgres} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const kafkaBrokers = useEnvKafka ? process.env.KAFKA_BROKERS : `127.0.0.1:${ports.kafka}`;
    system.kafkaBrokers = kafkaBrokers;
    system.kafkaDataDir = kafkaDataDir;
    const chdbPath = join(workDir, 'chdb');
    const replicas = options.replicas ?? 1;
    // Analytics replicas share one ClickHouse engine (chDB is one process per folder); no history bulk-load then.
    let clickhouseUrl;
    if (replicas > 1) {
      if (options.historyRows > 0) throw new Error('the history bulk-load writes the embedded chDB folder: use historyRows 0 with replicas');
      const clickhouse = await startClickHouseServer({ dataDir: join(workDir, 'clickhouse'), log: (line) => log(`clickhouse: ${line}`) });
      stops.push(() => clickhouse.stop());
      clickhouseUrl = clickhouse.url;
    }
    // The services, as scripts/lib/system.mjs describes them; logs straight to
    // files (no pipe through the bench process, which is also the load generator).
    const description = await describeSystem({
      infraEnv: { DATABASE_URL: databaseUrl, KAFKA_BROKERS: kafkaBrokers, ...(clickhouseUrl ? { CLICKHOUSE_URL: clickhouseUrl } : {}) },
      ports,
      ...(replicas > 1 ? { replicas, replicaPorts: await freeReplicaPorts(ports, replicas) } : {}),
      chdbPath,
      // Long enough for the first FINAL reads over millions of rows while merges run.
      clickhouseRequestTimeoutMs: 60_000,
      // The bench's own users only; not the demo users.
      devUsers: false,
      pki,
      // The webhook-service accepts the bench's loopback receiver (bench/lib/webhooks.mjs); the report names it.
      env: { gateway: BENCH_RATE_LIMIT_ENV, webhooks: BENCH_WEBHOOK_ENV },
    });
    const services = createSystem(description, {
      logDir: options.logDir ?? workDir,
      nodeArgs: (key) => (options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, SERVICES[key])}`] : []),
    });
    // Stopped before Kafka and PostgreSQL (stops run in reverse order).
    stops.push(() => services.stop({ timeoutMs: 20_000 }));
    system.processes = services.services;

    // The identity-service first (the bench users register there), then the
    // bank (migrations); its relay retries until the broker is up.
    // Behind HAProxy (replicas), the issuer URL is HAProxy's: it starts first.
    if (replicas > 1) await services.start('loadBalancer');
    await Promise.all(services.instancesOf('identity').map((h) => services.start(h.key)));
    log('identity-service ready');
    system.issuer = description.issuer;
    if (description.issuer.startsWith('https:')) trustCaForFetch(description.pki.caFile);
    system.authEndpoints = await resolveAuthEndpoints({ issuer: description.issuer });
    // The users register (argon2 hashes at the issuer) while the bank migrates.
    const seedStart = Date.now();
    const registered = registerBenchUsers(system.authEndpoints, usersFor(options.accounts), log);
    registered.catch(() => {}); // awaited below
    await Promise.all(services.instancesOf('bank').map((h) => services.start(h.key)));
    log('bank-service ready');

    const population = await seedPopulation({ endpoints: system.authEndpoints, databaseUrl, count: options.accounts, log, registered });
    system.accounts = population.accounts;
    system.users = population.users;
    system.hotUser = population.hot;
    const accountIds = population.accounts.ids;
    const heavyAccount = population.accounts.heavyAccount;
    log(`seeded ${accountIds.length} + 3 accounts owned by ${population.users.length} + 1 users in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

    if (options.historyRows > 0) {
      system.history = await loadHistory({
        chdbPath,
        rows: options.historyRows,
        accountIds,
        heavyAccountId: heavyAccount,
        workDir,
        log,
      });
      log(`history: ${system.history.rows.toLocaleString('en-US')} rows in ${system.history.parts} parts, loaded in ${system.history.loadS} s`);
    }

    await kafkaStarted;
    // The workers log in (at the issuer, which is up) while the other services start.
    const loggingIn = options.onPopulation?.(system) ?? Promise.resolve();
    loggingIn.catch(() => {}); // awaited below
    // The rest in dependency order, each layer's services together (identity and bank are up).
    const rest = Object.keys(services.services).filter((key) => key !== 'bank' && key !== 'identity');
    await services.startAll();
    log(`${rest.map((key) => SERVICES[key]).join(', ')} ready`);
    await loggingIn;
    /** Restarts one service with extra env (a configuration variant); resolves with its pid when it is ready again. */
    system.restart = (key, extraEnv = {}) => services.restart(key, extraEnv);
    /** One instance (replicas: 'bank.2') stopped on purpose (no restart) / started again; start resolves with its pid when ready. */
    system.stopInstance = (key) => services.services[key].stop();
    system.startInstance = (key) => services.start(key);
    system.replicas = replicas;
    system.baseUrl = description.baseUrl;
    system.bankGrpcAddress = description.bankGrpcAddress;
    // The certificates the services were given (the gRPC-direct client presents the api-gateway's).
    system.pki = description.pki ?? pki;
    system.startupS = Math.round((Date.now() - t0) / 100) / 10;
    return system;
  } catch (error) {
    await system.stop();
    throw error;
  }
}

/** The postmaster pid of a data dir (first line of postmaster.pid). */
export function postmasterPid(dataDir) {
  try {
    return Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return undefined;
  }
}

export function ensureDir(path) {
  mkdirSync(path, { recursive: true });
  return path;
}
