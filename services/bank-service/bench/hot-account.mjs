#!/usr/bin/env node
// Hot-account throughput of TransferMoney with and without group commit, in
// one run on one PostgreSQL (not part of `npm test`). Build first:
// npx tsc -b services/bank-service.
//   node services/bank-service/bench/hot-account.mjs [--via grpc|inprocess] [--seconds 5] [--concurrency 16,64]
//        [--workers 1,2,4,8] [--scenarios hot-pair,hot-sender,hot-recipient,uniform] [--pool 20] [--profile DIR]
//        [--transport mtls|plaintext]
// --via grpc (default): a real bank-service process per mode (node dist/main.js,
// group commit switched by its env vars), called over gRPC from this process
// as the api-gateway, over mutual TLS with the development PKI (.data/pki,
// created on first use); --transport plaintext (the bench-only hook
// WALLET_TEST_GRPC_PLAINTEXT) measures what mTLS costs.
// --via inprocess: BankOperations called directly (the database path only;
// callers answered by one batch all come back in the same tick, so batches
// are formed in lock-step and the worker count hardly matters there).
// Uses DATABASE_URL's server if set (a fresh database is created on it),
// otherwise starts a throw-away embedded PostgreSQL (fsync on, as in tests).
// Every account belongs to one customer, "bench-user", who makes every
// transfer: over gRPC with a real ES256 token from a loopback issuer (the bank
// verifies it and checks the sender's owner, from its cache after the first
// sight), in process with the same principal.
// Closed loop: each of C callers sends its next transfer when the previous one
// is answered. Amounts are 0.01 from accounts funded for the whole run, so
// every transfer is expected to succeed; anything else is counted as an error.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { BankServiceClient } from '@wallet/contracts/bank';
import { callUnary, createGrpcClient, createLogger } from '@wallet/platform';
import { createGrpcSecurity } from '@wallet/platform/tls';
import { ensurePki, tlsEnvFor } from '../../../scripts/lib/pki.mjs';
import { ensurePostgres } from '../../../scripts/lib/postgres.mjs';
import { freePort } from '../../../scripts/lib/infra.mjs';
import { BankOperations } from '../dist/app/operations.js';
import { seedAccounts } from '../dist/cli/seed.js';
import { migrateBank } from '../dist/db/migrations.js';
import { createPool } from '@wallet/platform/db';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '16,64' },
    workers: { type: 'string', default: '1,2,4,8' },
    'max-batch': { type: 'string', default: '128' },
    scenarios: { type: 'string', default: 'hot-pair,hot-sender,hot-recipient,uniform' },
    pool: { type: 'string', default: '20' },
    via: { type: 'string', default: 'grpc' },
    // --via grpc only: write a CPU profile of each bank-service process here.
    profile: { type: 'string' },
    // --via grpc only: mtls (as deployed) or plaintext (bench hook, to state the cost of mTLS).
    transport: { type: 'string', default: 'mtls' },
  },
});
const serviceMain = new URL('../dist/main.js', import.meta.url).pathname;
const seconds = Number(args.seconds);
const levels = args.concurrency.split(',').map(Number);
const workerCounts = args.workers.split(',').map(Number);
const maxBatch = Number(args['max-batch']);
const scenarios = args.scenarios.split(',');
const poolMax = Number(args.pool);
const logger = createLogger('hot-account-bench', 'silent');
if (!['mtls', 'plaintext'].includes(args.transport)) throw new Error(`--transport must be mtls or plaintext, not ${args.transport}`);
const pki = args.transport === 'mtls' ? await ensurePki({ dir: new URL('../../../.data/pki', import.meta.url).pathname }) : undefined;
/** TLS env of the bank process, or the plaintext hook. */
const transportEnv = pki ? tlsEnvFor(pki, 'bank-service') : { WALLET_TEST_GRPC_PLAINTEXT: 'true' };
/** This process plays the gateway (the bank's caller table lets it transfer). */
const gatewaySecurity = pki
  ? createGrpcSecurity(
      { caFile: pki.caFile, certFile: pki.services['api-gateway'].certFile, keyFile: pki.services['api-gateway'].keyFile, reloadIntervalMs: 0, reloadOnSighup: false },
      { logger },
    )
  : createGrpcSecurity('plaintext', { logger });

const dir = mkdtempSync(join(tmpdir(), 'bank-hot-bench-'));
const server = await ensurePostgres({ dataDir: join(dir, 'pg'), port: await freePort(), databases: [] });
const dbName = `bank_hot_bench_${process.pid}`;
const admin = new pg.Client({ connectionString: server.baseUrl });
await admin.connect();
await admin.query(`CREATE DATABASE ${dbName}`);
const databaseUrl = server.urlFor(dbName);
await migrateBank({ databaseUrl, logger });

const pool = createPool(
  { connectionString: databaseUrl, connectionsMax: poolMax, connectTimeoutMs: 10_000, statementTimeoutMs: 10_000, idleInTransactionTimeoutMs: 30_000, applicationName: 'bank-hot-account-bench' },
  logger,
);
const BENCH_USER = 'bench-user';
const benchCaller = { subject: BENCH_USER, roles: ['customer'], expiresAtSeconds: Math.floor(Date.now() / 1000) + 3600 };
const ids = [];
await seedAccounts(pool, { count: 1_002, balanceMinor: 100_000_000_00n, currency: 'USD', ownerIds: [BENCH_USER], onBatch: (batch) => ids.push(...batch) });

/** A loopback token issuer (OpenID discovery + JWKS, ES256) and one access token for the bench user. */
async function startIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256', use: 'sig' };
  let issuer = '';
  const http = createServer((request, response) => {
    response.setHeader('content-type', 'application/json');
    if (request.url === '/.well-known/openid-configuration') response.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (request.url === '/jwks') response.end(JSON.stringify({ keys: [jwk] }));
    else response.writeHead(404).end();
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${http.address().port}`;
  const token = await new SignJWT({ roles: ['customer'] })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench' })
    .setIssuer(issuer)
    .setAudience('wallet-api')
    .setSubject(BENCH_USER)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  return { env: { AUTH_ISSUER: issuer, AUTH_AUDIENCE: 'wallet-api' }, headers: { authorization: `Bearer ${token}` }, close: () => http.close() };
}
const issuer = await startIssuer();
const [hot, partner, ...others] = ids;

let sequence = 0;
const pick = () => others[Math.floor(Math.random() * others.length)];
const pairs = {
  'hot-pair': () => [hot, partner],
  'hot-sender': () => [hot, pick()],
  'hot-recipient': () => [pick(), hot],
  uniform: () => {
    const a = pick();
    let b = pick();
    while (b === a) b = pick();
    return [a, b];
  },
};

/** A bank-service process with these group-commit settings; resolves once it listens. */
async function startService(groupCommit) {
  const nodeArgs = args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, serviceMain], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      BANK_DATABASE_CONNECTIONS_MAX: String(poolMax),
      BANK_DATABASE_QUEUE_SIZE_MAX: '100000',
      BANK_GRPC_PORT: '0',
      BANK_OPS_PORT: '0',
      LOG_LEVEL: 'info',
      BANK_MIGRATE_ON_START: 'false',
      BANK_OUTBOX_RELAY_ENABLED: 'false',
      BANK_GROUP_COMMIT_ENABLED: String(groupCommit.enabled),
      BANK_GROUP_COMMIT_WORKERS: String(groupCommit.workers ?? 1),
      BANK_GROUP_COMMIT_BATCH_SIZE_MAX: String(groupCommit.maxBatch ?? 128),
      BANK_GROUP_COMMIT_QUEUE_SIZE_MAX: '10000',
      ...issuer.env,
      ...transportEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // A bench that dies on an error must not leave its bank process behind.
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  child.once('exit', () => process.off('exit', killChild));
  const { grpcPort, opsPort } = await new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk) => {
      buffer += chunk;
      for (const line of buffer.split('\n')) {
        if (line.includes('"msg":"listening"')) resolve(JSON.parse(line));
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`bank-service exited with ${code}`)));
  });
  child.stdout.resume();
  const client = createGrpcClient(BankServiceClient, `127.0.0.1:${grpcPort}`, gatewaySecurity.client('bank-service'));
  return {
    transferMoney: (request) => callUnary(client, client.transferMoney, request, { timeoutMs: 30_000, headers: issuer.headers }),
    /** Batches since start, from the service's own histogram. */
    batchStats: async () => {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      // Batches that ran (one transaction each): committed ones and lone requests.
      const value = (name) =>
        ['committed', 'single']
          .map((outcome) => Number(text.match(new RegExp(`^${name}\\{[^}]*outcome="${outcome}"[^}]*\\} (\\S+)$`, 'm'))?.[1] ?? 0))
          .reduce((a, b) => a + b, 0);
      return { count: value('bank_transfer_batch_size_count'), sum: value('bank_transfer_batch_size_sum') };
    },
    close: async () => {
      client.close();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** BankOperations called as the bench user. */
function inProcess(operations) {
  return { transferMoney: (request) => operations.transferMoney(request, benchCaller), close: () => operations.close() };
}

async function run(scenario, concurrency, groupCommit) {
  const batches = [];
  const ops =
    args.via === 'grpc'
      ? await startService(groupCommit)
      : inProcess(
          new BankOperations({
            pool,
            logger,
            limits: { maxTransferAmountMinor: 100_000_000n, maxDepositAmountMinor: 100_000_000n },
            poolWaitingMax: 100_000,
            groupCommit,
            onTransferBatch: (report) => batches.push(report.size),
          }),
        );
  // Warm-up: connections and prepared statements.
  await Promise.all(
    Array.from({ length: concurrency }, (_, i) =>
      ops.transferMoney({
        senderAccountId: others[i],
        recipientAccountId: others[i + 1],
        amount: { amountMinor: 1n, currencyCode: 'USD' },
        idempotencyKey: `warm-${process.pid}-${(sequence += 1)}`,
        description: '',
      }),
    ),
  );
  const batchesBefore = ops.batchStats ? await ops.batchStats() : undefined;
  batches.length = 0;
  const counts = { ok: 0, errors: 0 };
  const errorKinds = new Map();
  const latencies = [];
  const deadline = performance.now() + seconds * 1_000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const [sender, recipient] = pairs[scenario]();
        const t = performance.now();
        try {
          await ops.transferMoney({
            senderAccountId: sender,
            recipientAccountId: recipient,
            amount: { amountMinor: 1n, currencyCode: 'USD' },
            idempotencyKey: `bench-${process.pid}-${(sequence += 1)}`,
            description: '',
          });
          counts.ok += 1;
          latencies.push(performance.now() - t);
        } catch (error) {
          counts.errors += 1;
          const kind = error?.metadata?.get?.('grpc-status-details-bin')?.length ? error.details : (error?.reason ?? error?.message ?? String(error));
          errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1_000;
  if (ops.batchStats && groupCommit.enabled) {
    const after = await ops.batchStats();
    const count = after.count - batchesBefore.count;
    if (count > 0) batches.push(...Array(count).fill((after.sum - batchesBefore.sum) / count));
  }
  await ops.close();
  latencies.sort((a, b) => a - b);
  const q = (p) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1) : '-');
  return {
    scenario,
    concurrency,
    mode: groupCommit.enabled ? `group commit, ${groupCommit.workers} worker(s)` : 'one transaction per transfer',
    tps: Math.round(counts.ok / elapsedS),
    ok: counts.ok,
    errors: counts.errors,
    errorKinds: Object.fromEntries(errorKinds),
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    meanBatch: batches.length ? (batches.reduce((a, b) => a + b, 0) / batches.length).toFixed(1) : '-',
  };
}

async function invariants() {
  const { rows } = await pool.query(`
    SELECT (SELECT sum(balance_minor) FROM bank.accounts)::text AS balance_sum,
           (SELECT count(*) FROM bank.accounts WHERE kind = 'customer' AND balance_minor < 0)::int AS negative,
           (SELECT count(*) FROM bank.accounts a
             WHERE a.balance_minor <> (SELECT coalesce(sum(amount_minor), 0) FROM bank.ledger_entries e WHERE e.account_id = a.id))::int AS out_of_balance`);
  return rows[0];
}

const results = [];
try {
  for (const scenario of scenarios) {
    for (const concurrency of levels) {
      const modes = [{ enabled: false }, ...workerCounts.map((workers) => ({ enabled: true, workers, maxBatch, queueMax: 10_000, lingerMs: 0 }))];
      for (const mode of modes) {
        const result = await run(scenario, concurrency, mode);
        results.push(result);
        console.log(JSON.stringify(result));
      }
    }
  }
  console.log(`\ntransport: ${args.via === 'grpc' ? args.transport : 'in process (no gRPC)'}`);
  console.log('\n| scenario | callers | mode | transfers/s | p50 ms | p99 ms | mean batch | errors |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(`| ${r.scenario} | ${r.concurrency} | ${r.mode} | ${r.tps} | ${r.p50Ms} | ${r.p99Ms} | ${r.meanBatch} | ${r.errors} |`);
  }
  console.log('\nledger invariants after the run:', JSON.stringify(await invariants()));
} finally {
  issuer.close();
  gatewaySecurity.close();
  await pool.end();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName}`).catch(() => {});
  await admin.end();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
