// One chaos run: private infrastructure and services, users registered at the
// identity-service, seeded accounts owned by them, the workload (logged in as
// the owners through the gateway) and the nemesis side by side, then the
// checks. Returns a summary (JSON-ready: no bigint) that run.mjs writes and renders.
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as systemLib from '../lib/system.mjs';
import { createSystem, describeSystem, entryOf, freePorts, SERVICE_KEYS, SERVICE_NAMES } from '../lib/system.mjs';
import { startClickHouseServer } from '../lib/clickhouse-server.mjs';
import { ensureKafka, ensureTopics } from '../lib/kafka.mjs';
import { ensurePostgres } from '../lib/postgres.mjs';
import { root } from '../lib/paths.mjs';
import * as pkiLib from '../lib/pki.mjs';
import { inject, ROTATED_SERVICES, scheduleRound } from './faults.mjs';
import { registerUsers, resolveAuthEndpoints, SessionPool } from '../../bench/lib/auth.mjs';
import { readOwners } from '../../bench/lib/population.mjs';
import { trustCaForFetch } from '../../bench/lib/tls.mjs';
import { checkAuthAnswers, checkHistories, checkInvariants, checkTlsProblems, formatMinor, recoveryTimes, refundedMinor } from './model.mjs';
import { readTlsProblems } from './tls-facts.mjs';
import { createRandom, readHistory, runReader, runTokenProber, runWorkload, exchange } from './workload.mjs';
import { readSqlFacts } from './sql-facts.mjs';
import { CHAOS_CROSS_CHECK_ENV, readLedgerDrift } from './drift-facts.mjs';
import { chaosAdminClient, checkFeatures, startLimits, startOverdrafts } from './feature-facts.mjs';
import { parseSignedMinor } from './statement-facts.mjs';
import { countClientErrors, GAP_MS_TARGET, gapsOfFaults, longestGap, replicaGap, CLIENT_KINDS } from './availability.mjs';
import { startWebhookReceiver } from './webhook-receiver.mjs';
import { checkDeliveryLogs, checkWebhookDeliveries, expectedEvents, readStreamOrder, waitForWebhookDeliveries, WEBHOOK_EVENT_TYPES } from './webhook-facts.mjs';
import { readDeliveryLogs, runWebhookOps } from './webhook-ops.mjs';

const INITIAL_BALANCE = '100.00';
const ANSWERS_KEPT_MAX = 2_000_000;
/** The workload's users each own about this many accounts. */
const ACCOUNTS_PER_USER = 5;
/**
 * The gateway's rate limits, raised (still on) for this run: a few users send
 * tens of requests per second and every retry counts; a 429 would only be
 * retried (it is "unknown"), so the default limits would measure the limiter.
 */
const CHAOS_GATEWAY_ENV = { GATEWAY_RATE_LIMIT_USER_PER_MINUTE: '1000000', GATEWAY_RATE_LIMIT_AUTH_PER_MINUTE: '1000000' };
/**
 * The webhook-service in this run: an attempt the receiver leaves hanging ends
 * after 2 s (default 10 s), and retries come after 0.2-2 s (default 5 s-1 h),
 * so the deliveries the receiver fails on purpose settle within the run. An
 * account's deliveries go one at a time, one per dispatch cycle once no new
 * event wakes the dispatcher: a 100 ms cycle (default 500) drains the backlog a
 * Kafka restart leaves in seconds (all delivered 45 s after the histories were
 * read at 500 ms, seed 2201; 10 s at 100 ms, seed 2202).
 */
const CHAOS_WEBHOOK_ENV = {
  WEBHOOK_DELIVERY_TIMEOUT_MS: '2000',
  WEBHOOK_RETRY_DELAY_MS_MIN: '200',
  WEBHOOK_RETRY_DELAY_MS_MAX: '2000',
  WEBHOOK_DISPATCH_INTERVAL_MS: '100',
};
/** Registering the webhooks happens before any fault: a bound, not a wait. */
const WEBHOOK_REGISTER_MS_MAX = 60_000;
/**
 * The delivery log and manual redelivery during the workload (webhook-ops.mjs): one user's turn
 * (a page of the log, one redelivery) every 3 s, round robin, at most 8 turns per user: ~20 in
 * the short form, 48 in the full one, against some thousands of operations.
 */
const WEBHOOK_OPS_EVERY_MS = 3_000;
const WEBHOOK_OPS_PER_USER_MAX = 8;
/** After the run the logs are read again until they agree with the receiver (a last attempt's outcome being written), at most this long. */
const WEBHOOK_LOG_SETTLE_MS = 30_000;

/** ensurePostgres on a private server: never the developer's DATABASE_URL (this server gets crashed). */
async function startPostgres(dataDir, port, pki) {
  const savedDatabaseUrl = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL;
  try {
    return await ensurePostgres({ dataDir, port, databases: ['wallet'], pki });
  } finally {
    if (savedDatabaseUrl !== undefined) process.env.DATABASE_URL = savedDatabaseUrl;
  }
}

/**
 * Private PostgreSQL and Kafka in workDir, with restart handles for the
 * nemesis: a restart starts the same server again on its data and port.
 */
async function startInfra(workDir, ports, pki, log, { sharedClickHouse = false } = {}) {
  const pgDataDir = join(workDir, 'postgres');
  const kafkaDataDir = join(workDir, 'kafka');
  const startKafka = () =>
    ensureKafka({ dataDir: kafkaDataDir, port: ports.kafka, controllerPort: ports.kafkaController, useEnv: false, log: () => {} });
  // Kafka takes longest to start: it starts while PostgreSQL does.
  const kafkaStarted = startKafka();
  kafkaStarted.catch(() => {}); // awaited below
  let postgres;
  let kafka;
  let clickhouse;
  const stop = async () => {
    await clickhouse?.stop().catch((e) => log(`stopping clickhouse: ${e.message}`));
    await kafka?.stop().catch((e) => log(`stopping kafka: ${e.message}`));
    await postgres?.stop().catch((e) => log(`stopping postgres: ${e.message}`));
  };
  try {
    postgres = await startPostgres(pgDataDir, ports.postgres, pki);
    log(`postgres on ${ports.postgres}`);
    // Analytics replicas share one ClickHouse engine (embedded chDB is one per process).
    if (sharedClickHouse) {
      const logPath = join(workDir, '..', 'logs', 'clickhouse-server.log');
      mkdirSync(dirname(logPath), { recursive: true });
      clickhouse = await startClickHouseServer({ dataDir: join(workDir, 'clickhouse'), port: 0, log: (line) => appendFileSync(logPath, `${line}\n`) });
      log(`clickhouse (shared by the analytics replicas) on ${clickhouse.port}`);
    }
    kafka = await kafkaStarted;
    await ensureTopics(kafka.brokers);
  } catch (error) {
    kafka ??= await kafkaStarted.catch(() => undefined);
    await stop();
    throw error;
  }
  log(`kafka on ${kafka.brokers}`);
  return {
    env: { DATABASE_URL: postgres.urlFor('wallet'), KAFKA_BROKERS: kafka.brokers, ...(clickhouse ? { CLICKHOUSE_URL: clickhouse.url } : {}) },
    postgres: {
      dataDir: pgDataDir,
      restart: async () => {
        // Already gone: this only releases the old handle (bounded, whatever the launcher does).
        await Promise.race([postgres.stop().catch(() => {}), sleep(2_000)]);
        postgres = await startPostgres(pgDataDir, ports.postgres, pki);
      },
    },
    kafka: {
      dataDir: kafkaDataDir,
      restart: async () => {
        await kafka.stop().catch(() => {});
        kafka = await startKafka();
      },
    },
    stop,
  };
}

const START_ATTEMPTS_MAX = 6;
/** C4: when the relay leader dies, another bank replica leads within 5 s (its bank_outbox_relay_leader gauge). */
const RELAY_TAKEOVER_MS_MAX = 5_000;

/** The services that call the bank over gRPC: a rotated certificate of theirs is also checked as a client of the bank. */
const CALLS_BANK = new Set(['gateway', 'cardAdapter', 'webhooks']);

/** Where a service serves TLS and which certificate a client presents there (rotation checks), or undefined. */
function tlsEndpointOf(key, handle, description) {
  if (handle.ports.grpc) return { port: handle.ports.grpc, grpc: true };
  if (key === 'identity' && description.issuer.startsWith('https:')) return { port: handle.ports.http, grpc: false, probeAs: null };
  if (key === 'paymentGatewayMock' && servesHttps(description)) return { port: handle.ports.http, grpc: false, probeAs: 'bank-card-adapter' };
  return undefined;
}

/** True when the card adapter is told to reach the mock over https (the mock then requires mutual TLS). */
function servesHttps(description) {
  const adapter = description.services.find((s) => s.key === 'cardAdapter');
  return Object.entries(adapter?.env ?? {}).some(([name, value]) => name.endsWith('PAYMENT_GATEWAY_URL') && value.startsWith('https://'));
}

/** The gRPC services, plus the identity-service and the payment gateway mock when they serve HTTPS. */
function rotatedServices(services, description) {
  const https = [];
  // Replica 1 keeps the service key: present whenever the service runs.
  if (services.identity && description.issuer.startsWith('https:')) https.push('identity');
  if (services.paymentGatewayMock && servesHttps(description)) https.push('paymentGatewayMock');
  return [...ROTATED_SERVICES, ...https];
}

/**
 * Starts a killed service again the way a supervisor would: a service may exit
 * at start-up while a dependency is down (PostgreSQL crashed meanwhile), so it
 * gets a few attempts with backoff before the fault counts as not healed.
 */
async function startSupervised(handle, start, log) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= START_ATTEMPTS_MAX) throw error;
      await handle.kill(); // still running but never ready: a fresh start
      log(`${handle.name} did not start (attempt ${attempt}): ${error.message.split('\n')[0]}; retrying`);
      await sleep(Math.min(8_000, 500 * 2 ** attempt));
    }
  }
}

/** The bank's seed CLI (as bench and README do): funded accounts owned by `owners`, ids on stdout. */
function seedAccounts(databaseUrl, count, owners) {
  const res = spawnSync(
    process.execPath,
    [
      join(root, 'services', 'bank-service', 'dist', 'cli', 'seed-accounts.js'),
      '--count',
      String(count),
      '--balance',
      INITIAL_BALANCE,
      '--owners',
      owners.join(','),
    ],
    { cwd: root, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' }, encoding: 'utf8', timeout: 120_000 },
  );
  if (res.status !== 0) throw new Error(`seed-accounts failed (exit ${res.status}): ${res.stderr.slice(-2000)}`);
  const ids = res.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  if (ids.length !== count) throw new Error(`seed-accounts printed ${ids.length} ids, expected ${count}`);
  return ids;
}

/** Polls until fn() returns a value (not undefined) or the deadline passes; returns the last value. */
async function until(fn, timeoutMs, intervalMs = 500) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn().catch((error) => ({ error }));
    if (value !== undefined && !value.error) return value;
    if (Date.now() > deadline) return value;
    await sleep(intervalMs);
  }
}

async function readBalances(baseUrl, accounts, auth) {
  const balances = new Map();
  for (const id of accounts) {
    const res = await until(async () => {
      const r = await exchange(baseUrl, 'GET', `/accounts/${id}/balance`, { headers: auth.headersFor(id) });
      return r.status === 200 ? r : undefined;
    }, 30_000);
    if (!res || res.status !== 200) throw new Error(`balance of ${id} unreadable`);
    // Signed: an account may be below zero under its overdraft or a forced reversal (ADR 0016, 0017).
    balances.set(id, parseSignedMinor(res.body.balance));
  }
  return balances;
}

/** Histories of every account; re-read until they match the model or the catch-up deadline passes. */
async function readHistories(baseUrl, accounts, ops, catchUpMs, auth) {
  const startedMs = Date.now();
  let histories;
  for (;;) {
    histories = new Map();
    for (const id of accounts) histories.set(id, await readHistory(baseUrl, id, { headers: auth.headersFor(id) }).catch(() => undefined));
    const complete = [...histories.values()].every(Boolean);
    if (complete && checkHistories(ops, histories).length === 0) break;
    if (Date.now() - startedMs > catchUpMs) break;
    await sleep(1_000);
  }
  for (const [id, items] of histories) if (!items) histories.delete(id);
  return { histories, catchUpMs: Date.now() - startedMs };
}

/** The nemesis: rounds of faults with gaps, until the rounds or the minimum duration are done. */
async function runNemesis({ target, serviceKeys, instances, profile, random, log, faults, rotate }) {
  const startedMs = Date.now();
  await sleep(3_000); // the workload first shows a healthy baseline
  for (let round = 0; round < profile.rounds; round++) {
    const tracks = scheduleRound(serviceKeys, { pauseMs: profile.pauseMs, tracks: profile.tracks, doubles: profile.doubles, rotate, instances, round });
    // Later rounds are shuffled: faults meet the system in different states.
    if (round > 0) for (const track of tracks) track.sort(() => random.next() - 0.5);
    await Promise.all(
      tracks.map(async (track, index) => {
        if (index > 0) await sleep(random.int(...profile.gapMs) / 2); // tracks out of step
        for (const fault of track) {
          faults.push(await inject(target, fault, log));
          await sleep(random.int(...profile.gapMs));
        }
      }),
    );
    if (Date.now() - startedMs >= profile.durationMsMin) return;
  }
}

/**
 * The workload goes on after the last fault until every fault has shown its
 * recovery (an event after a Kafka restart can take a while), within a bound.
 */
async function waitForRecoveries({ faults, answers, receiver, profile, log }) {
  const startedMs = Date.now();
  for (;;) {
    await sleep(1_000);
    const elapsedMs = Date.now() - startedMs;
    if (elapsedMs < profile.tailMs) continue;
    const sorted = [...answers].sort((a, b) => a.answeredAtMs - b.answeredAtMs);
    const waiting = recoveriesOf(faults, sorted, receiver).filter((f) => f.recoveryMs === undefined && !f.error);
    if (waiting.length === 0) return;
    if (elapsedMs >= profile.tailMsMax) {
      log(`no recovery within ${profile.tailMsMax / 1000} s after the last fault: ${waiting.map((f) => f.name).join(', ')}`);
      return;
    }
  }
}

/**
 * Registers the workload's users at the identity-service (directly: the gateway
 * is not up yet), seeds the accounts owned by them and checks who owns what.
 * @returns {Promise<{ accounts: string[], users: { username: string, userId: string }[], owners: Map<string, string> }>}
 */
async function seedOwnedAccounts({ issuer, databaseUrl, count, seed }) {
  const usersCount = Math.max(2, Math.ceil(count / ACCOUNTS_PER_USER));
  const usernames = Array.from({ length: usersCount }, (_, i) => `chaos-${seed}-u${i}`);
  const userIds = await registerUsers(await resolveAuthEndpoints({ issuer }), usernames);
  const accounts = seedAccounts(databaseUrl, count, userIds);
  const owners = await readOwners(databaseUrl, accounts);
  for (const id of accounts) {
    if (!userIds.includes(owners.get(id))) throw new Error(`account ${id} is owned by ${owners.get(id) ?? 'nobody'}, not by a workload user (seed CLI --owners)`);
  }
  return { accounts, users: usernames.map((username, i) => ({ username, userId: userIds[i] })), owners };
}

/**
 * The workload's sessions: one per user, logged in through the gateway's
 * /auth/token like a real client, refreshed in the background; every token
 * answer is recorded (kind `login`). `headersFor(accountId)` = the owner's bearer token.
 */
async function logInOwners({ baseUrl, users, owners, record, log }) {
  const onAnswer = (answer) =>
    record({ kind: 'login', sentAtMs: answer.sentAtMs, answeredAtMs: answer.answeredAtMs, ok: answer.status === 200, status: answer.status ?? answer.error });
  const pool = new SessionPool(await resolveAuthEndpoints({ gatewayUrl: baseUrl }), { log, onAnswer });
  await pool.ensure(users.map((u) => [u.userId, u.username]));
  pool.startRefresher();
  return { pool, headersFor: (accountId) => ({ authorization: pool.get(owners.get(accountId)).authorization }) };
}

/**
 * Each workload user registers one webhook for every event type (POST /webhooks as that user,
 * through the gateway) pointing at its own path of the run's receiver, which gets the secret.
 * No fault runs yet: an unanswered or 5xx/409 attempt is sent again with the same key; a replay
 * without the secret (a lost 201 before secrets could be replayed) is deleted and registered anew.
 * @returns {Promise<{ endpointOf: Map<string, string>, webhookIds: Map<string, string> }>} account id -> the endpoint key (the owner's
 *   username) that receives its events; endpoint key -> the webhook's id
 */
async function registerWebhooks({ baseUrl, users, owners, auth, receiver, seed }) {
  const deadlineMs = Date.now() + WEBHOOK_REGISTER_MS_MAX;
  const webhookIds = new Map();
  for (const { username, userId } of users) {
    const headers = () => ({ authorization: auth.pool.get(userId).authorization });
    const body = { url: receiver.urlFor(username), events: [...WEBHOOK_EVENT_TYPES] };
    for (let generation = 0; ; generation++) {
      const key = `chaos-${seed}-webhook-${username}-${generation}`;
      let res;
      do {
        if (res) await sleep(500);
        res = await exchange(baseUrl, 'POST', '/webhooks', { body, headers: { ...headers(), 'idempotency-key': key } });
      } while ((res.error || res.status >= 500 || res.status === 409 || res.status === 429) && Date.now() < deadlineMs);
      if (res.status !== 201) throw new Error(`webhook of ${username} not registered: ${res.status ?? res.error} ${JSON.stringify(res.body ?? '').slice(0, 300)}`);
      if (res.body.secret) {
        receiver.setSecret(username, res.body.secret);
        webhookIds.set(username, res.body.id);
        break;
      }
      if (generation >= 2 || Date.now() > deadlineMs) throw new Error(`webhook of ${username}: the 201 replay has no secret`);
      await exchange(baseUrl, 'DELETE', `/webhooks/${res.body.id}`, { headers: headers() });
    }
  }
  const usernameOf = new Map(users.map((u) => [u.userId, u.username]));
  return { endpointOf: new Map([...owners].map(([accountId, userId]) => [accountId, usernameOf.get(userId)])), webhookIds };
}

/** The receiver's answers as the recovery of the webhook-service's faults reads them (kind `webhook`). */
function webhookAnswers(receiver) {
  if (!receiver) return [];
  return receiver.deliveries
    .filter((d) => d.answeredAtMs !== undefined)
    .map((d) => ({ kind: 'webhook', sentAtMs: d.receivedAtMs, answeredAtMs: d.answeredAtMs, ok: d.answer === 200 }))
    .sort((a, b) => a.answeredAtMs - b.answeredAtMs);
}

/**
 * recoveryTimes, with the webhook-service's faults measured on the receiver's
 * deliveries only: they are not client answers (a delivery must not count as
 * the gateway's recovery, and client answers not as the webhooks').
 */
function recoveriesOf(faults, answers, receiver) {
  const deliveries = faults.some((f) => f.affects === 'webhook') ? webhookAnswers(receiver) : [];
  return faults.map((f) => recoveryTimes([f], f.affects === 'webhook' ? deliveries : answers)[0]);
}

/**
 * The webhook checks (webhook-facts.mjs): waits for the deliveries (and the redeliveries), reads the
 * stream's order, compares; then reads every endpoint's whole delivery log and compares it with the receiver.
 */
async function checkWebhooks({ receiver, histories, endpointOf, brokers, topic, waitMs, log, baseUrl, users, webhookIds, auth, ops }) {
  const expected = expectedEvents(histories);
  const redeliveries = ops.redeliveries;
  const settleMs = await waitForWebhookDeliveries({ receiver, expected, endpointOf, waitMs, redeliveries });
  // Once more on a failure: the broker may just have been restarted by the nemesis.
  const readOrder = () => readStreamOrder({ brokers, topic, timeoutMs: 60_000 });
  const order = await readOrder()
    .catch(readOrder)
    .catch((error) => {
      log(`webhook order: ${topic} unreadable: ${error.message}`);
      return undefined;
    });
  const result = checkWebhookDeliveries({ deliveries: receiver.deliveries, expected, order, endpointOf, overflow: receiver.stats.overflow, redeliveries });
  const c = result.counts;
  log(`webhooks: ${c.expected} events, ${c.deliveries} deliveries (${c.retries} retries, ${c.duplicates} duplicates, ${c.redelivered} redelivered), ${c.missing} missing, after ${Math.round(settleMs / 1000)} s`);
  // The delivery logs (GET /webhooks/{id}/deliveries, every page): read again while they disagree, within a bound.
  const logStartedMs = Date.now();
  let logs;
  for (;;) {
    logs = checkDeliveryLogs({ logs: await readDeliveryLogs({ baseUrl, users, webhookIds, auth }), deliveries: receiver.deliveries, redeliveries });
    if (logs.violations.length === 0 || Date.now() - logStartedMs > WEBHOOK_LOG_SETTLE_MS) break;
    await sleep(2_000);
  }
  const stats = ops.stats ?? {};
  const unexpected = (stats.unexpected ?? []).map((detail) => ({ invariant: 'delivery log and redelivery answered as the contract says', detail }));
  const l = logs.counts;
  log(
    `webhook logs: ${l.entries} deliveries in ${l.endpoints} logs (${l.succeeded} succeeded, ${l.pending} pending, ${l.failed} failed); during the run ${stats.logReads ?? 0} log pages read ` +
      `(${stats.logReadsOk ?? 0} ok), ${stats.redeliveries ?? 0} redeliveries asked (${stats.redeliveriesOk ?? 0} accepted, ${l.redeliveriesReceived} received again)`,
  );
  const opsCounts = Object.fromEntries(Object.entries(stats).filter(([name]) => name !== 'unexpected'));
  return {
    violations: [...result.violations, ...logs.violations, ...unexpected],
    counts: { ...c, settleS: Math.round(settleMs / 100) / 10, unknownPath: receiver.stats.unknownPath, log: { ...l, ...opsCounts, unexpected: unexpected.length, checkedAfterS: Math.round((Date.now() - logStartedMs) / 100) / 10 } },
  };
}

/** The nemesis' handle on one service instance (keyed by instance key: `bank`, `bank.2`, ...). */
function targetOf(key, h, system, log) {
  const description = system.description;
  const serviceKey = h.serviceKey ?? key;
  return {
    name: h.name,
    instanceName: h.instanceName ?? h.name,
    tls: tlsEndpointOf(serviceKey, h, description),
    callsBank: CALLS_BANK.has(serviceKey),
    opsPort: h.ports.ops,
    pid: () => h.pid,
    logPath: () => h.logPath,
    kill: () => h.kill(),
    // Healed once ready and, behind HAProxy, back in its rotation (system.start waits for both).
    restart: () => startSupervised(h, () => system.start(key), log),
  };
}

/** The system's description: one instance of each service, or `replicas` of ours behind HAProxy (issue 13). */
async function describeChaosSystem({ infra, ports, replicaPorts, replicas, workDir, pki }) {
  return describeSystem({
    // Every service that is built (an optional workspace without dist/ is not part of this system yet),
    // the webhook-service included: its deliveries to the run's receiver are checked (webhook-facts.mjs).
    include: SERVICE_KEYS.filter((key) => existsSync(entryOf(SERVICE_NAMES[key]))),
    infraEnv: infra.env,
    ports,
    ...(replicas > 1 ? { replicas, replicaPorts } : {}),
    chdbPath: join(workDir, 'chdb'),
    commonEnv: { LOG_LEVEL: 'info' },
    // identity: the run's admin client (client credentials) for GET /admin/ledger/verify (feature-facts.mjs).
    env: { gateway: CHAOS_GATEWAY_ENV, analytics: CHAOS_CROSS_CHECK_ENV, webhooks: CHAOS_WEBHOOK_ENV, identity: chaosAdminClient(workDir).env },
    devUsers: false,
    pki,
  });
}

/** Starts the load balancer (replicas), every identity and bank instance: enough to register users and seed accounts. */
async function startForSeeding(system) {
  if (system.loadBalancer && !system.loadBalancer.pid) await system.start('loadBalancer');
  for (const serviceKey of ['identity', 'bank']) {
    const keys = Object.values(system.services).filter((h) => (h.serviceKey ?? h.key) === serviceKey).map((h) => h.key);
    await Promise.all(keys.map((key) => system.start(key)));
  }
}

/**
 * @param {{ form: string, profile: typeof import('./run.mjs').PROFILES.short, seed: number, workDir: string, log: (l: string) => void, replicas?: number }} options
 */
export async function runChaos({ form, profile, seed, workDir, log, replicas = 1 }) {
  const random = createRandom(seed);
  // The run's own CA and certificates (mutual TLS on every hop, PostgreSQL's TLS): the
  // rotation fault rewrites them, so never the developer's .data/pki.
  const pki = await pkiLib.ensurePki({ dir: join(workDir, 'pki'), infra: pkiLib.INFRA_NAMES ?? [] });
  const infraOptions = { sharedClickHouse: replicas > 1 };
  let ports = await freePorts();
  let infra;
  try {
    infra = await startInfra(join(workDir, 'infra-1'), ports, pki, log, infraOptions);
  } catch (error) {
    // A port another process just took, or a stale socket lock of another user in /tmp: new ports, once.
    log(`infrastructure did not start (${error.message.split('\n')[0]}); once more on other ports`);
    ports = await freePorts();
    infra = await startInfra(join(workDir, 'infra-2'), ports, pki, log, infraOptions);
  }
  let system;
  let auth;
  let receiver;
  try {
    if (replicas > 1 && typeof systemLib.freeReplicaPorts !== 'function') throw new Error('--replicas needs the replicas of scripts/lib/system.mjs (C5), not in this tree');
    const replicaPorts = replicas > 1 ? await systemLib.freeReplicaPorts(ports, replicas) : undefined;
    const description = await describeChaosSystem({ infra, ports, replicaPorts, replicas, workDir, pki });
    // The identity-service over HTTPS (when the launcher says so) has a certificate of the run's CA.
    if (description.issuer.startsWith('https:')) trustCaForFetch(pki.caFile);
    system = createSystem(description, { logDir: join(workDir, 'logs') });
    await startForSeeding(system);
    const { accounts, users, owners } = await seedOwnedAccounts({ issuer: description.issuer, databaseUrl: infra.env.DATABASE_URL, count: profile.accounts, seed });
    await system.startAll();
    log(`services ready: ${Object.keys(system.services).join(', ')}${system.loadBalancer ? ' behind HAProxy' : ''}; ${accounts.length} accounts of ${INITIAL_BALANCE} owned by ${users.length} users`);
    const baseUrl = system.baseUrl;

    const answers = [];
    const record = (a) => answers.length < ANSWERS_KEPT_MAX && answers.push(a);
    auth = await logInOwners({ baseUrl, users, owners, record, log });
    // Webhooks (ADR 0022): each user's endpoint on the run's receiver, which fails or leaves hanging a few deliveries on purpose.
    receiver = system.services.webhooks ? await startWebhookReceiver({ next: createRandom(seed + 1).next }) : undefined;
    const { endpointOf, webhookIds } = receiver ? await registerWebhooks({ baseUrl, users, owners, auth, receiver, seed }) : {};
    if (receiver) log(`webhooks: ${users.length} endpoints (every event type) registered on the run's receiver`);
    const initialMinor = await readBalances(baseUrl, accounts, auth);
    // Spending limits on a few accounts (ADR 0016), then the instant before the first operation.
    const limitPlans = await startLimits({ baseUrl, accounts, auth, log });
    // Overdrafts set by the admin, and the admin's forced reversals in the workload (overdraft-facts.mjs).
    const overdraft = await startOverdrafts({ baseUrl, accounts, workDir, log });
    const beforeFirstOpIso = new Date().toISOString();
    const faults = [];
    let starting = true;
    let giveUpAtMs = Infinity;
    const instances = description.instances ?? Object.fromEntries(Object.keys(system.services).map((key) => [key, [key]]));
    const target = {
      services: Object.fromEntries(Object.entries(system.services).map(([key, h]) => [key, targetOf(key, h, system, log)])),
      instancesOf: (serviceKey) => instances[serviceKey] ?? [serviceKey],
      postgres: infra.postgres,
      kafka: infra.kafka,
      downMs: profile.downMs,
      pki,
      bankAddresses: (description.grpcAddresses?.bank ?? description.bankGrpcAddress).split(','),
    };
    const workloadStartedMs = Date.now();
    const opsRef = [];
    const workload = runWorkload({
      baseUrl,
      accounts,
      workers: profile.workers,
      random,
      runId: `${seed}`,
      topUpShare: 0.25,
      // Holds (ADR 0015): created, then captured (all or part), voided or left to expire.
      holdShare: 0.1,
      // Reversals (ADR 0017): the recipient gives back all or part of one in ten completed transfers.
      reversalShare: 0.1,
      // Refunds (ADR 0018): the owner refunds all or part of one in ten completed top-ups to the card.
      refundShare: 0.1,
      overdraft: overdraft.workload,
      transferMinor: [100, 4_000],
      topUpMinor: [500, 3_000],
      shouldStart: () => starting,
      giveUpAtMs: () => giveUpAtMs,
      record,
      ops: opsRef,
      auth,
    });
    let reading = true;
    const reader = runReader({ baseUrl, accounts, random, ops: opsRef, record, shouldRun: () => reading, auth });
    const prober = runTokenProber({ sessions: () => [...auth.pool.sessions.values()], shouldRun: () => reading, log });
    // Now and then a user reads a page of their delivery log and redelivers one delivery of it (webhook-ops.mjs).
    const webhookOps = { redeliveries: [], stats: undefined };
    const webhookOpsDone = receiver
      ? runWebhookOps({
          baseUrl,
          users,
          webhookIds,
          auth,
          random: createRandom(seed + 2),
          record,
          shouldRun: () => reading,
          redeliveries: webhookOps.redeliveries,
          everyMs: WEBHOOK_OPS_EVERY_MS,
          perUserMax: WEBHOOK_OPS_PER_USER_MAX,
        })
          .then((stats) => void (webhookOps.stats = stats))
          .catch((error) => log(`webhook log/redelivery calls stopped: ${error.message}`))
      : undefined;
    const rotate = rotatedServices(system.services, description);
    const serviceKeys = Object.keys(instances).filter((key) => system.services[key]);
    await runNemesis({ target, serviceKeys, instances, profile, random, log, faults, rotate });
    await waitForRecoveries({ faults, answers, receiver, profile, log });
    starting = false;
    const faultsEndedMs = Date.now();
    giveUpAtMs = Date.now() + profile.settleMs;
    log(`nemesis done (${faults.length} faults); settling in-flight requests (at most ${profile.settleMs / 1000} s)`);
    const ops = await workload;
    reading = false;
    await reader;
    await prober;
    await webhookOpsDone;
    const workloadMs = Date.now() - workloadStartedMs;

    log(`checking ${ops.length} operations`);
    const { histories, catchUpMs } = await readHistories(baseUrl, accounts, ops, profile.catchUpMs, auth);
    const observedMinor = await readBalances(baseUrl, accounts, auth);
    // Runs beside the checks below: every event of the histories delivered, signed, in order (webhook-facts.mjs).
    const webhooksChecked = receiver
      ? checkWebhooks({
          receiver,
          histories,
          endpointOf,
          brokers: infra.env.KAFKA_BROKERS.split(','),
          topic: description.topics.operations,
          waitMs: profile.catchUpMs,
          log,
          baseUrl,
          users,
          webhookIds,
          auth,
          ops: webhookOps,
        }).catch((error) => ({
          violations: [{ invariant: 'every event delivered to its webhook', detail: `the webhook check failed: ${error.message}` }],
          counts: undefined,
        }))
      : undefined;
    const sql = await readSqlFacts(infra.env.DATABASE_URL, { waitMs: 30_000 });
    const violations = checkInvariants({ initialMinor, ops, observedMinor, histories, sql: sql.facts, overdraftMinor: overdraft.limits });
    violations.push(...checkAuthAnswers(answers, workloadStartedMs));
    // Limits, statements, balance-at and the ledger verification (issue 15): feature-facts.mjs.
    const features = await checkFeatures({ baseUrl, databaseUrl: infra.env.DATABASE_URL, accounts, auth, ops, initialMinor, plans: limitPlans, overdraft, fromIso: beforeFirstOpIso, workDir, log });
    violations.push(...features.violations);
    // History cross-check (ADR 0021): every analytics instance reports no drift from the ledger.
    const drift = await readLedgerDrift({
      instances: target.instancesOf('analytics').filter((key) => target.services[key]).map((key) => ({ name: key, opsPort: target.services[key].opsPort })),
      workloadEndedMs: Date.now(),
      waitMs: 60_000,
    });
    violations.push(...drift.violations);
    log(`history cross-check: ${drift.instances.map((i) => `${i.name} drift ${i.driftAccounts ?? '?'} accounts`).join(', ')}`);
    // Mutual TLS: no caller refused by a caller table, no certificate/handshake failure between the services (their logs, whole run).
    const tls = await readTlsProblems(Object.values(system.services).map((h) => ({ name: h.instanceName ?? h.name, logPath: h.logPath })));
    violations.push(...checkTlsProblems(tls.problems));
    const webhooks = await webhooksChecked;
    if (webhooks) violations.push(...webhooks.violations);
    for (const f of faults) if (f.error) violations.push({ invariant: 'every fault injected and healed', detail: `${f.name}: ${f.error}` });
    answers.sort((a, b) => a.answeredAtMs - b.answeredAtMs);
    const recovered = gapsOfFaults(recoveriesOf(faults, answers, receiver), answers);
    for (const f of recovered) {
      if (f.recoveryMs === undefined) violations.push({ invariant: 'every fault recovers', detail: `${f.name}: no successful ${f.affects} answer after it` });
    }
    // A kill of a service that runs once (the payment gateway mock) is no replica's loss.
    const singles = serviceKeys.filter((key) => target.instancesOf(key).length === 1).map((key) => `kill -9 ${key}`);
    const availability = availabilityOf({ answers, faults: recovered, fromMs: workloadStartedMs, toMs: faultsEndedMs, replicas, singles });
    for (const f of faults) {
      const takeoverMs = f.details?.takeoverMs;
      if (takeoverMs !== undefined && takeoverMs > RELAY_TAKEOVER_MS_MAX) {
        violations.push({ invariant: `relay leadership taken over within ${RELAY_TAKEOVER_MS_MAX / 1000} s`, detail: `${f.name}: ${f.details.newLeader} after ${takeoverMs} ms` });
      }
    }
    const authentication = { users: users.length, ...auth.pool.stats() };
    const mtls = {
      issuer: description.issuer,
      rotations: faults.filter((f) => f.name.startsWith('rotate certificate')).length,
      logsScanned: tls.scanned,
      problems: tls.problems.length,
    };
    const loadBalancer = await loadBalancerStats(system.loadBalancer);
    return { ...summarize({ form, seed, profile, replicas, accounts, ops, answers, faults: recovered, violations, initialMinor, observedMinor, histories, sql, workloadMs, catchUpMs, workloadStartedMs, authentication, mtls, availability, loadBalancer }), features: features.summary, webhooks: webhooks?.counts };
  } finally {
    auth?.pool.stop();
    await system?.stop().catch((e) => log(`stopping services: ${e.message}`));
    await receiver?.close();
    await infra.stop();
  }
}

/**
 * What the clients saw while the faults ran: error answers (each retried
 * with its key), the longest interval without a successful answer (all
 * client requests, and per kind), and the issue's replica number.
 */
function availabilityOf({ answers, faults, fromMs, toMs, replicas, singles }) {
  const window = { fromMs, toMs };
  const gapOf = (kinds) => {
    const gap = longestGap(answers, { ...window, kinds });
    return { gapMs: gap.gapMs, atS: Math.round((gap.fromMs - fromMs) / 100) / 10 };
  };
  return {
    replicas,
    windowS: Math.round((toMs - fromMs) / 100) / 10,
    clientErrors: countClientErrors(answers.filter((a) => a.answeredAtMs >= fromMs && a.answeredAtMs <= toMs)),
    longestGap: gapOf(CLIENT_KINDS),
    longestGapByKind: Object.fromEntries(CLIENT_KINDS.map((kind) => [kind, gapOf([kind])])),
    replicaGap: { ...replicaGap(faults, { singles }), singles },
    gapMsTarget: GAP_MS_TARGET,
  };
}

const LB_METRICS_TIMEOUT_MS = 5_000;
const LB_COUNTERS = {
  retries: /^haproxy_backend_retry_warnings_total\{[^}]*proxy="gateway[^"]*"[^}]*\}\s+(\S+)/gm,
  redispatches: /^haproxy_backend_redispatch_warnings_total\{[^}]*proxy="gateway[^"]*"[^}]*\}\s+(\S+)/gm,
  connectionErrors: /^haproxy_backend_connection_errors_total\{[^}]*proxy="gateway[^"]*"[^}]*\}\s+(\S+)/gm,
  responseErrors: /^haproxy_backend_response_errors_total\{[^}]*proxy="gateway[^"]*"[^}]*\}\s+(\S+)/gm,
};

/** HAProxy's own counters for the gateway backend (retries on another gateway, redispatches), when it runs. */
async function loadBalancerStats(lb) {
  if (!lb?.metricsUrl) return undefined;
  try {
    const res = await fetch(lb.metricsUrl, { signal: AbortSignal.timeout(LB_METRICS_TIMEOUT_MS) });
    const text = await res.text();
    const stats = {};
    for (const [name, pattern] of Object.entries(LB_COUNTERS)) {
      stats[name] = [...text.matchAll(pattern)].reduce((sum, m) => sum + Number(m[1]), 0);
    }
    return stats;
  } catch (error) {
    return { error: error.message };
  }
}

function summarize({ form, seed, profile, replicas, accounts, ops, answers, faults, violations, initialMinor, observedMinor, histories, sql, workloadMs, catchUpMs, workloadStartedMs, authentication, mtls, availability, loadBalancer }) {
  const count = (pred) => ops.filter(pred).length;
  const byKind = (kind) => ({
    total: count((o) => o.kind === kind),
    completed: count((o) => o.kind === kind && o.outcome === 'completed'),
    rejected: count((o) => o.kind === kind && o.outcome === 'rejected'),
    unknown: count((o) => o.kind === kind && o.outcome === 'unknown'),
    unexpected: count((o) => o.kind === kind && o.outcome === 'unexpected'),
    retried: count((o) => o.kind === kind && o.answers.length > 1),
    attempts: ops.filter((o) => o.kind === kind).reduce((s, o) => s + o.answers.length, 0),
  });
  const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0n);
  const statusCounts = {};
  for (const a of answers) statusCounts[`${a.kind} ${a.status}`] = (statusCounts[`${a.kind} ${a.status}`] ?? 0) + 1;
  return {
    form,
    seed,
    replicas,
    passed: violations.length === 0,
    finishedAt: new Date().toISOString(),
    profile,
    accounts: accounts.length,
    authentication,
    mtls,
    availability,
    loadBalancer,
    workloadS: Math.round(workloadMs / 100) / 10,
    historyCatchUpS: Math.round(catchUpMs / 100) / 10,
    transfers: byKind('transfer'),
    topUps: byKind('topup'),
    holds: byKind('hold'),
    reversals: byKind('reversal'),
    refunds: { ...byKind('refund'), succeeded: count((o) => o.kind === 'refund' && o.refundStatus === 'succeeded'), failed: count((o) => o.kind === 'refund' && o.refundStatus === 'failed') },
    answers: statusCounts,
    money: {
      initialTotal: formatMinor(sum(initialMinor)),
      completedTopUps: formatMinor(ops.filter((o) => o.kind === 'topup' && o.outcome === 'completed').reduce((s, o) => s + o.amountMinor, 0n)),
      succeededRefunds: formatMinor(refundedMinor(ops)),
      finalTotal: formatMinor(sum(observedMinor)),
      minBalance: formatMinor([...observedMinor.values()].reduce((a, b) => (b < a ? b : a))),
    },
    historyEntries: [...histories.values()].reduce((s, items) => s + items.length, 0),
    sqlChecks: sql.checked,
    faults: faults.map((f) => ({
      name: f.name,
      affects: f.affects,
      atS: Math.round((f.startedAtMs - workloadStartedMs) / 100) / 10,
      healMs: f.healMs,
      recoveryMs: f.recoveryMs,
      gapMs: f.gapMs,
      gapOverlaps: f.gapOverlaps?.length ? f.gapOverlaps : undefined,
      details: f.details,
      error: f.error,
    })),
    violations,
  };
}
