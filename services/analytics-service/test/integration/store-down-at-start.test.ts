// The service started while its ClickHouse is unreachable (a replica restarted
// during a ClickHouse outage): it must come up anyway, answer reads with
// UNAVAILABLE (REST 503, retry later; not INTERNAL), say so in /readyz, and once
// ClickHouse is there set up its schema, consume and serve what was produced
// meanwhile. Before, the start failed (exit) and the process crash-looped.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as Status } from '@grpc/grpc-js';
import { parseGrpcError } from '@wallet/platform';
import { createTopics, freePort, TestProducer, uniqueName, waitFor } from '@wallet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { startClickHouseServer, type ClickHouseServer } from '../../../../scripts/lib/clickhouse-server.mjs';
import { at, transferEvent } from '../support/events.js';
import { analyticsClient, readAllPages, startInProcess } from '../support/service.js';

const topic = uniqueName('ops-store-down');
const dataDir = mkdtempSync(join(tmpdir(), 'analytics-store-down-'));
let clickhouse: ClickHouseServer | undefined;
let app: Awaited<ReturnType<typeof startInProcess>> | undefined;

afterAll(async () => {
  await app?.stop();
  await clickhouse?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('ClickHouse unreachable at start', { timeout: 180_000 }, () => {
  it('starts anyway, answers reads UNAVAILABLE until ClickHouse is up, then sets up the schema and consumes', async () => {
    await createTopics([
      { name: topic, partitions: 2 },
      { name: `${topic}.dlq`, partitions: 1 },
    ]);
    const port = await freePort();
    app = await startInProcess({
      CLICKHOUSE_URL: `http://127.0.0.1:${port}`,
      ANALYTICS_CLICKHOUSE_DATABASE: `analytics_${randomUUID().replaceAll('-', '').slice(0, 12)}`,
      ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic,
      ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`,
      ANALYTICS_KAFKA_GROUP_ID: uniqueName('analytics-store-down'),
    });
    const readyz = async () => {
      const res = await fetch(`http://127.0.0.1:${app!.opsPort}/readyz`, { signal: AbortSignal.timeout(5_000) });
      return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
    };
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.checks.store).not.toBe('ok');

    const client = analyticsClient(app.grpcPort);
    try {
      const accountId = randomUUID();
      const error = await client.getOperations({ accountId }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(parseGrpcError(error)).toMatchObject({ code: Status.UNAVAILABLE, reason: 'STORE_UNAVAILABLE' });

      const events = Array.from({ length: 5 }, (_, i) => transferEvent({ accountId, amount: `${i + 1}.00`, occurredAt: at('2025-10-01T00:00:00Z', i * 1000, i) }));
      const producer = new TestProducer();
      await producer.sendEvents(topic, events);
      await producer.close();

      clickhouse = await startClickHouseServer({ dataDir, port });
      await waitFor(async () => (await readyz()).status === 200, { what: '/readyz 200 once the schema is set up', timeoutMs: 60_000, intervalMs: 200 });
      const history = await waitFor(
        async () => {
          const ops = await readAllPages(client, { accountId });
          return ops.length >= events.length ? ops : undefined;
        },
        { what: 'the events produced while ClickHouse was down', timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(history.map((op) => op.id).sort()).toEqual(events.map((e) => e.eventId).sort());
    } finally {
      client.close();
    }
  });
});
