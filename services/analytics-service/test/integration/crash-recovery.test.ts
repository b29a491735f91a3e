// The real service process (dist/main.js) on a real broker: killed with
// SIGKILL after a batch is inserted but before its offsets are committed,
// then restarted. The batch is redelivered; history still holds each event once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSchemaChecker, createTopics, type ServiceProcess, startService, TestProducer, uniqueName, waitFor } from '@wallet/testkit';
import { at, transferPair } from '../support/events.js';
import { analyticsClient, metricValue, readAllPages, removeChdbPath, serviceMain, tempChdbPath, testEnv } from '../support/service.js';

const topic = uniqueName('ops-crash');
const dlqTopic = `${topic}.dlq`;
const groupId = uniqueName('analytics-crash');
const chdbPath = tempChdbPath('crash');
const checkSchema = createSchemaChecker();
const running: ServiceProcess[] = [];

function start(extra: Record<string, string> = {}): ServiceProcess {
  const service = startService(
    'analytics',
    serviceMain,
    testEnv({ ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic, ANALYTICS_KAFKA_DLQ_TOPIC: dlqTopic, ANALYTICS_KAFKA_GROUP_ID: groupId, ANALYTICS_CHDB_PATH: chdbPath, LOG_LEVEL: 'info', ANALYTICS_BATCH_SIZE_MAX: '500', ANALYTICS_BATCH_WAIT_MS_MAX: '300', ...extra }),
  );
  running.push(service);
  return service;
}

async function ports(service: ServiceProcess): Promise<{ grpcPort: number; opsPort: number }> {
  return waitFor(
    () => {
      for (const line of service.logs) {
        if (line.includes('"msg":"listening"')) return JSON.parse(line) as { grpcPort: number; opsPort: number };
      }
      if (service.child.exitCode !== null) throw new Error(`service exited: ${service.logs.slice(-5).join('\n')}`);
      return undefined;
    },
    { what: 'the "listening" log line', timeoutMs: 60_000 },
  );
}

beforeAll(async () => {
  await createTopics([
    { name: topic, partitions: 3 },
    { name: dlqTopic, partitions: 1 },
  ]);
});

afterAll(async () => {
  for (const service of running) await service.kill();
  removeChdbPath(chdbPath);
});

describe('crash between insert and commit', { timeout: 180_000 }, () => {
  it('replays the uncommitted batch after a SIGKILL without duplicating history', async () => {
    const accounts = [randomUUID(), randomUUID()];
    const events = Array.from({ length: 30 }, (_, i) =>
      transferPair({ from: accounts[i % 2]!, to: accounts[(i + 1) % 2]!, amount: `${i + 1}.00`, occurredAt: at('2025-06-01T00:00:00Z', i * 1000, i) }),
    ).flat();
    for (const event of events) expect(checkSchema(event)).toEqual([]);
    const producer = new TestProducer();
    await producer.sendEvents(topic, events);
    await producer.close();

    // 1. Inserts a batch, then holds before committing (test hook)...
    const first = start({ WALLET_TEST_HOLD_BEFORE_COMMIT: 'true' });
    const firstPorts = await ports(first);
    await waitFor(() => first.logs.some((l) => l.includes('holding before commit')), { what: 'the hold after insert', timeoutMs: 60_000 });
    const firstClient = analyticsClient(firstPorts.grpcPort);
    const storedBeforeCrash = (await readAllPages(firstClient, { accountId: accounts[0]!, pageSize: 100 })).length;
    firstClient.close();
    expect(storedBeforeCrash).toBeGreaterThan(0);

    // 2. ...and dies there, so nothing of that batch was committed.
    await first.kill();

    // 3. The restarted service gets the batch again and must not store it twice.
    const second = start();
    const { grpcPort, opsPort } = await ports(second);
    const client = analyticsClient(grpcPort);
    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      return text.includes('analytics_consumer_lag{') && metricValue(text, 'analytics_consumer_lag') === 0;
    }, { what: 'the restarted consumer to commit everything', timeoutMs: 90_000 });
    const metricsText = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
    expect(metricValue(metricsText, 'analytics_events_duplicate_total')).toBeGreaterThanOrEqual(storedBeforeCrash);

    for (const accountId of accounts) {
      const history = await readAllPages(client, { accountId, pageSize: 7 });
      const ids = history.map((op) => op.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(events.filter((e) => e.accountId === accountId).map((e) => e.eventId).sort());
    }
    client.close();

    // 4. A graceful stop exits cleanly.
    expect(await second.stop(30_000)).toBe(0);
  });
});

describe('graceful shutdown', { timeout: 180_000 }, () => {
  it('flushes and commits the batch in progress on SIGTERM, so a restart has nothing to redo', async () => {
    const accountId = randomUUID();
    const events = Array.from({ length: 5 }, (_, i) => transferPair({ from: accountId, to: randomUUID(), amount: '1.00', occurredAt: at('2025-07-01T00:00:00Z', i) })[0]);
    for (const event of events) expect(checkSchema(event)).toEqual([]);
    // A batch that would wait a minute for more events: only the shutdown can flush it.
    const service = start({ ANALYTICS_BATCH_WAIT_MS_MAX: '60000' });
    const { opsPort } = await ports(service);
    const producer = new TestProducer();
    await producer.sendEvents(topic, events);
    await producer.close();
    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
      // Read into the batch (not merely waiting in the topic), and not flushed.
      return metricValue(text, 'analytics_events_consumed_total') === 0 && metricValue(text, 'analytics_batch_pending_records') === events.length;
    }, { what: 'the events to be read but not yet flushed', timeoutMs: 60_000 });
    expect(await service.stop(30_000)).toBe(0);

    const restarted = start();
    const { grpcPort, opsPort: restartedOps } = await ports(restarted);
    const client = analyticsClient(grpcPort);
    const history = await readAllPages(client, { accountId });
    client.close();
    expect(history.map((op) => op.id).sort()).toEqual(events.map((e) => e.eventId).sort());
    await waitFor(async () => {
      const text = await (await fetch(`http://127.0.0.1:${restartedOps}/metrics`)).text();
      return text.includes('analytics_consumer_lag{') && metricValue(text, 'analytics_consumer_lag') === 0;
    }, { what: 'lag measured after restart', timeoutMs: 60_000 });
    const text = await (await fetch(`http://127.0.0.1:${restartedOps}/metrics`)).text();
    expect(metricValue(text, 'analytics_events_consumed_total')).toBe(0);
    expect(await restarted.stop(30_000)).toBe(0);
  });
});
