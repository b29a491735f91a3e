#!/usr/bin/env node
// How long a consumer group takes to hand a crashed member's partitions to the
// survivor, per group protocol of @platformatic/kafka (the analytics-service's
// client): two member processes consume one topic; one is SIGKILLed (no
// LeaveGroup); the time until the other holds every partition is measured.
//   classic-static   classic protocol (eager JoinGroup/SyncGroup) with static membership, as the service runs
//   classic-dynamic  classic protocol without a group instance id
//   consumer         KIP-848 protocol (incremental, broker-side assignor): session timeout
//                    and heartbeat are the broker's (group.consumer.*), not the client's
//
//   node services/analytics-service/bench/handover.mjs [--runs 2] [--session-timeout-ms 6000]
//        [--heartbeat-ms 500] [--protocols classic-static,consumer] [--signal SIGKILL|SIGTERM]
// Uses KAFKA_BROKERS when set, else starts a private broker (Java, as for npm test).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer } from '@platformatic/kafka';
import { freePort } from '../../../scripts/lib/infra.mjs';
import { ensureKafka, ensureTopics } from '../../../scripts/lib/kafka.mjs';

const PARTITIONS = 4;
const JOIN_DEADLINE_MS = 120_000;
const HANDOVER_DEADLINE_MS = 120_000;
const POLL_MS = 25;
const self = fileURLToPath(import.meta.url);

/** Member mode: joins the group and prints its partitions whenever they change. */
async function member({ brokers, topic, groupId, protocol, instanceId, sessionTimeoutMs, heartbeatMs }) {
  const group =
    protocol === 'consumer'
      ? { groupProtocol: 'consumer', ...(instanceId ? { groupInstanceId: instanceId } : {}) }
      : { sessionTimeout: sessionTimeoutMs, rebalanceTimeout: sessionTimeoutMs, heartbeatInterval: heartbeatMs, ...(protocol === 'classic-static' ? { groupInstanceId: instanceId } : {}) };
  const consumer = new Consumer({ clientId: instanceId, bootstrapBrokers: brokers.split(','), groupId, autocommit: false, timeout: sessionTimeoutMs + 5_000, ...group });
  const stream = await consumer.consume({ topics: [topic], mode: 'committed', fallbackMode: 'earliest', autocommit: false, ...(protocol === 'consumer' ? {} : group) });
  stream.on('data', () => {});
  // A graceful stop, as the service's: close(force) leaves the group.
  process.once('SIGTERM', () => consumer.close(true, () => process.exit(0)));
  let last = '';
  for (;;) {
    const partitions = (consumer.assignments ?? []).filter((a) => a.topic === topic).flatMap((a) => a.partitions).sort((a, b) => a - b);
    const text = JSON.stringify(partitions);
    if (text !== last) {
      last = text;
      console.log(JSON.stringify({ partitions }));
    }
    await sleep(POLL_MS);
  }
}

function startMember(args) {
  const child = spawn(process.execPath, [self, '--member', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const state = { child, partitions: [] };
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{"partitions"')) state.partitions = JSON.parse(line).partitions;
  });
  return state;
}

async function waitUntil(predicate, deadlineMs, what) {
  const deadline = Date.now() + deadlineMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(POLL_MS);
  }
}

/** One crash (SIGKILL) or graceful stop (SIGTERM) of a member; the other's takeover is timed. */
async function measure(brokers, protocol, options, signal) {
  const topic = `handover-${randomUUID()}`;
  const groupId = `handover-${randomUUID()}`;
  await ensureTopics(brokers, [{ name: topic, partitions: PARTITIONS }]);
  const common = { brokers, topic, groupId, protocol, ...options };
  const a = startMember({ ...common, instanceId: 'member-1' });
  const b = startMember({ ...common, instanceId: 'member-2' });
  try {
    await waitUntil(() => a.partitions.length > 0 && b.partitions.length > 0 && a.partitions.length + b.partitions.length === PARTITIONS, JOIN_DEADLINE_MS, 'both members to share the partitions');
    const killedAtMs = Date.now();
    b.child.kill(signal);
    await waitUntil(() => a.partitions.length === PARTITIONS, HANDOVER_DEADLINE_MS, 'the survivor to hold every partition');
    return Date.now() - killedAtMs;
  } finally {
    a.child.kill('SIGKILL');
    b.child.kill('SIGKILL');
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '2' },
      'session-timeout-ms': { type: 'string', default: '6000' },
      'heartbeat-ms': { type: 'string', default: '500' },
      protocols: { type: 'string', default: 'classic-static,classic-dynamic,consumer' },
      // SIGKILL: a crash (no LeaveGroup); SIGTERM: a graceful stop (rolling update, scale-in).
      signal: { type: 'string', default: 'SIGKILL' },
    },
  });
  const options = { sessionTimeoutMs: Number(values['session-timeout-ms']), heartbeatMs: Number(values['heartbeat-ms']) };
  const work = mkdtempSync(join(tmpdir(), 'analytics-handover-'));
  const kafka = process.env.KAFKA_BROKERS
    ? { brokers: process.env.KAFKA_BROKERS, stop: async () => {} }
    : await ensureKafka({ dataDir: join(work, 'kafka'), port: await freePort(), controllerPort: await freePort(), useEnv: false });
  try {
    for (const protocol of values.protocols.split(',')) {
      const timesMs = [];
      for (let run = 0; run < Number(values.runs); run += 1) timesMs.push(await measure(kafka.brokers, protocol, options, values.signal));
      console.log(JSON.stringify({ protocol, signal: values.signal, ...(protocol === 'consumer' ? { sessionTimeoutMs: 'broker group.consumer.session.timeout.ms' } : options), handoverMs: timesMs }));
    }
  } finally {
    await kafka.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const memberIndex = process.argv.indexOf('--member');
if (memberIndex !== -1) await member(JSON.parse(process.argv[memberIndex + 1]));
else await main();
