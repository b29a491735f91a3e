// scripts/lib/clickhouse-server.mjs: a real chDB engine behind the ClickHouse HTTP
// interface, spoken to by the same @clickhouse/client the analytics-service uses.
import { createClient } from '@clickhouse/client';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startClickHouseServer, type ClickHouseServer } from '../lib/clickhouse-server.mjs';

const dataDir = mkdtempSync(join(tmpdir(), 'wallet-clickhouse-server-'));
const servers: ClickHouseServer[] = [];

afterAll(async () => {
  for (const server of servers) await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function start(port = 0): Promise<ClickHouseServer> {
  const server = await startClickHouseServer({ dataDir, port });
  servers.push(server);
  return server;
}

async function countRows(url: string): Promise<number> {
  const client = createClient({ url, request_timeout: 10_000 });
  try {
    const result = await client.query({ query: 'SELECT count() AS n FROM t.rows', format: 'JSONEachRow' });
    const [row] = await result.json<{ n: string }>();
    return Number(row?.n);
  } finally {
    await client.close();
  }
}

describe('clickhouse-server (chDB over HTTP)', () => {
  it('serves DDL, parameterised inserts and selects to two clients at once, and keeps the data across a restart on the same port', async () => {
    const first = await start();
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const clients = [createClient({ url: first.url }), createClient({ url: first.url })];
    await clients[0]!.command({ query: 'CREATE DATABASE IF NOT EXISTS t' });
    await clients[0]!.command({ query: 'CREATE TABLE IF NOT EXISTS t.rows (id UInt32, amount_minor Int64) ENGINE = MergeTree ORDER BY id' });
    await Promise.all(
      clients.map((client, i) => client.insert({ table: 't.rows', values: [{ id: i, amount_minor: '9007199254740993' }], format: 'JSONEachRow' })),
    );
    const result = await clients[1]!.query({ query: 'SELECT sum(amount_minor) AS s FROM t.rows WHERE id < {limit:UInt32}', query_params: { limit: 10 }, format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ s: '18014398509481986' }]);
    for (const client of clients) await client.close();

    await first.stop();
    await expect(fetch(`${first.url}/ping`)).rejects.toThrow();
    const second = await start(first.port);
    expect(second.url).toBe(first.url);
    expect(await countRows(second.url)).toBe(2);
  });

  it("accepts query parameters beyond Node's 16 KiB header limit, as ClickHouse does (1 MiB URI): the analytics dedup lookup of a 1,000-event batch", async () => {
    const server = servers.at(-1) ?? (await start());
    const client = createClient({ url: server.url });
    const ids = Array.from({ length: 1_000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const result = await client.query({ query: 'SELECT length({ids:Array(UUID)}) AS n', query_params: { ids }, format: 'JSONEachRow' });
    expect(await result.json()).toEqual([{ n: '1000' }]);
    await client.close();
  });

  it('answers a bad statement with a ClickHouse exception, not a dropped connection', async () => {
    const server = servers.at(-1) ?? (await start());
    const client = createClient({ url: server.url });
    await expect(client.query({ query: 'SELECT * FROM t.no_such_table' })).rejects.toThrow(/no_such_table|UNKNOWN_TABLE|doesn't exist/i);
    await client.close();
  });
});
