// Two analytics-service processes (dist/main.js), one consumer group, one shared
// ClickHouse engine (scripts/lib/clickhouse-server.mjs: chDB behind the HTTP
// interface, as a replicated run uses it) and a topic of four partitions. One
// replica is killed with SIGKILL (no LeaveGroup) after it inserted a batch it
// never committed: the other must take its partitions within the documented
// bound (session timeout + heartbeat + rejoin, README "Replicas") and every
// event must end in history exactly once (the redelivered batch is deduplicated).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopics, type ServiceProcess, startService, TestProducer, uniqueName, waitFor } from '@wallet/testkit';
import { startClickHouseServer, type ClickHouseServer } from '../../../../scripts/lib/clickhouse-server.mjs';
import { at, transferEvent } from '../support/events.js';
import { analyticsClient, metricValue, readAllPages, serviceMain, testEnv } from '../support/service.js';

const PARTITIONS = 4;
const SESSION_TIMEOUT_MS = 6_000;
const HEARTBEAT_INTERVAL_MS = 500;
/** The documented handover bound: session timeout, then the survivor's next heartbeat and a rejoin (README). */
const HANDOVER_MS_MAX = SESSION_TIMEOUT_MS + 5_000;
const topic = uniqueName('ops-replicas');
const dlqTopic = `${topic}.dlq`;
const groupId = uniqueName('analytics-replicas');
const database = `analytics_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const dataDir = mkdtempSync(join(tmpdir(), 'analytics-replicas-'));
const running: ServiceProcess[] = [];
let clickhouse: ClickHouseServer;

interface Replica {
  process: ServiceProcess;
  grpcPort: number;
  opsPort: number;
}

async function startReplica(replica: number, extra: Record<string, string> = {}): Promise<Replica> {
  const service = startService(
    `analytics-${replica}`,
    serviceMain,
    testEnv({
      CLICKHOUSE_URL: clickhouse.url,
      ANALYTICS_CLICKHOUSE_DATABASE: database,
      ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
      ANALYTICS_KAFKA_DLQ_TOPIC: dlqTopic,
      ANALYTICS_KAFKA_GROUP_ID: groupId,
      ANALYTICS_KAFKA_GROUP_INSTANCE_ID: `analytics-service-${replica}`,
      ANALYTICS_KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS),
      ANALYTICS_KAFKA_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_INTERVAL_MS),
      LOG_LEVEL: 'info',
      ...extra,
    }),
  );
  running.push(service);
  const ports = await waitFor(
    () => {
      for (const line of service.logs) {
        if (line.includes('"msg":"listening"')) return JSON.parse(line) as { grpcPort: number; opsPort: number };
      }
      if (service.child.exitCode !== null) throw new Error(`replica ${replica} exited: ${service.logs.slice(-5).join('\n')}`);
      return undefined;
    },
    { what: `replica ${replica} listening`, timeoutMs: 60_000 },
  );
  return { process: service, ...ports };
}

/** The partitions /readyz says this replica holds (its detail, not a check). */
async function partitionsOf(replica: Replica): Promise<number[]> {
  const res = await fetch(`http://127.0.0.1:${replica.opsPort}/readyz`, { signal: AbortSignal.timeout(3_000) });
  const body = (await res.json()) as { detail?: { consumerGroup?: { partitions: number[] } } };
  return body.detail?.consumerGroup?.partitions ?? [];
}

beforeAll(async () => {
  clickhouse = await startClickHouseServer({ dataDir });
  await createTopics([
    { name: topic, partitions: PARTITIONS },
    { name: dlqTopic, partitions: 1 },
  ]);
});

afterAll(async () => {
  for (const service of running) await service.kill();
  await clickhouse?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('analytics replicas in one consumer group', { timeout: 240_000 }, () => {
  it('hands a killed replica\'s partitions to the other within the bound, and stores every event exactly once', async () => {
    // Replica 2 inserts its batches but never commits them (test hook), so its death leaves work to redo.
    const one = await startReplica(1);
    const two = await startReplica(2, { WALLET_TEST_HOLD_BEFORE_COMMIT: 'true' });
    const split = await waitFor(
      async () => {
        const [a, b] = await Promise.all([partitionsOf(one), partitionsOf(two)]);
        const all = [...a, ...b].sort();
        return a.length > 0 && b.length > 0 && all.join() === [...Array(PARTITIONS).keys()].join() ? { a, b } : undefined;
      },
      { what: 'both replicas to share the partitions', timeoutMs: 60_000, intervalMs: 200 },
    );

    const accounts = Array.from({ length: 40 }, () => randomUUID());
    const eventsFor = (round: number) => accounts.map((accountId, i) => transferEvent({ accountId, amount: `${round}.${String(i).padStart(2, '0')}`, occurredAt: at('2025-09-01T00:00:00Z', round * 60_000 + i, i) }));
    const first = eventsFor(1);
    const producer = new TestProducer();
    await producer.sendEvents(topic, first);
    await waitFor(() => two.process.logs.some((line) => line.includes('holding before commit')), { what: 'replica 2 to insert a batch and hold', timeoutMs: 60_000 });

    await two.process.kill();
    const killedAtMs = Date.now();
    const second = eventsFor(2);
    await producer.sendEvents(topic, second);
    await producer.close();
    await waitFor(async () => (await partitionsOf(one)).length === PARTITIONS, { what: 'replica 1 to hold every partition', timeoutMs: HANDOVER_MS_MAX, intervalMs: 100 });
    const handoverMs = Date.now() - killedAtMs;
    console.log(`[replicas-handover] partitions ${JSON.stringify(split.b)} moved in ${handoverMs} ms (session timeout ${SESSION_TIMEOUT_MS} ms, heartbeat ${HEARTBEAT_INTERVAL_MS} ms)`);

    const client = analyticsClient(one.grpcPort);
    try {
      const expected = new Map<string, string[]>();
      for (const event of [...first, ...second]) expected.set(event.accountId, [...(expected.get(event.accountId) ?? []), event.eventId]);
      await waitFor(
        async () => {
          const text = await (await fetch(`http://127.0.0.1:${one.opsPort}/metrics`)).text();
          return text.includes('analytics_consumer_lag{') && metricValue(text, 'analytics_consumer_lag') === 0;
        },
        { what: 'replica 1 to commit everything', timeoutMs: 60_000, intervalMs: 200 },
      );
      for (const [accountId, ids] of expected) {
        const history = (await readAllPages(client, { accountId, pageSize: 10 })).map((op) => op.id);
        expect(history.sort()).toEqual([...ids].sort());
      }
      // Replica 2's uncommitted batch came again to replica 1 and was recognised as already stored.
      const text = await (await fetch(`http://127.0.0.1:${one.opsPort}/metrics`)).text();
      expect(metricValue(text, 'analytics_events_duplicate_total')).toBeGreaterThan(0);
      expect(metricValue(text, 'analytics_consumer_assigned_partitions')).toBe(PARTITIONS);
    } finally {
      client.close();
    }
    expect(await one.process.stop(30_000)).toBe(0);
  });
});
