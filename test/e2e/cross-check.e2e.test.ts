// End to end for the history cross-check (issue #15, ADR 0021): the real
// system (bank on PostgreSQL, outbox -> Kafka -> analytics on a ClickHouse
// server) after a workload of transfers shows no drift; a history row deleted
// behind the service's back is reported as drift of exactly its amount.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClickHouseServer, type ClickHouseServer } from '../../scripts/lib/clickhouse-server.mjs';
import { ACCOUNT_A, ACCOUNT_B, ALICE, BOB, http, startSystem, type RunningSystem } from './harness.js';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const SETTLE_MS = 1_000;

/** One sample of the analytics-service's /metrics (0 when absent). */
async function metric(system: RunningSystem, name: string, labels = ''): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${system.ports.analyticsOps}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  // The registry adds default labels (service=...): match the name and the wanted label, whatever else.
  const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function clickhouse(server: ClickHouseServer, sql: string): Promise<string> {
  const res = await fetch(`${server.url}/?mutations_sync=2`, { method: 'POST', body: sql, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (!res.ok) throw new Error(`clickhouse answered ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

describe('history cross-check against the ledger', () => {
  let system: RunningSystem;
  let server: ClickHouseServer;
  beforeAll(async () => {
    server = await startClickHouseServer({ dataDir: join(root, '.data', 'test-clickhouse', `cross-check-${randomUUID().slice(0, 8)}`) });
    system = await startSystem({
      analytics: true,
      env: {
        analytics: {
          CLICKHOUSE_URL: server.url,
          ANALYTICS_CROSS_CHECK_INTERVAL_MS: '300',
          ANALYTICS_CROSS_CHECK_SETTLE_MS: String(SETTLE_MS),
        },
      },
    });
  }, 180_000);
  afterAll(async () => {
    await system?.stop();
    await server?.stop();
  });

  it('finds no drift after a workload, then reports a deleted history row as drift of its amount', { timeout: 180_000 }, async () => {
    const amounts = ['12.34', '0.01', '5.00', '7.65'];
    for (const [i, amount] of amounts.entries()) {
      const [from, to, user] = i % 2 === 0 ? [ACCOUNT_A, ACCOUNT_B, ALICE] : [ACCOUNT_B, ACCOUNT_A, BOB];
      // A timeout is an unknown outcome: asked again with the same key (a replay if it committed).
      const key = randomUUID();
      let res: Awaited<ReturnType<typeof http>> | undefined;
      for (let attempt = 0; attempt < 5 && (!res || res.status === 503 || res.status === 504); attempt += 1) {
        res = await http(system.baseUrl, 'POST', `/accounts/${from}/transfers`, {
          body: { recipientAccountId: to, amount, description: `cross-check ${i}` },
          headers: { ...(await system.as(user)), 'Idempotency-Key': key },
        });
      }
      expect(res!.status).toBe(201);
    }
    const committedAtMs = Date.now();
    const history = async () => {
      const res = await http(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/operations?limit=100`, { headers: await system.as(ALICE) });
      return (res.body?.items ?? []) as { id: string; type: string; amount: string }[];
    };
    await waitFor(async () => (await history()).length >= amounts.length, { what: "the transfers in alice's history", timeoutMs: 60_000 });

    // Every run that starts after the settle window has passed compares all four transfers.
    await waitFor(async () => Date.now() > committedAtMs + SETTLE_MS, { what: 'the settle window to pass', timeoutMs: 10_000 });
    const okBefore = await metric(system, 'analytics_ledger_cross_check_runs_total', 'outcome="ok"');
    const outcomes = async () => Object.fromEntries(await Promise.all(['ok', 'drift', 'error', 'skipped'].map(async (o) => [o, await metric(system, 'analytics_ledger_cross_check_runs_total', `outcome="${o}"`)])));
    try {
      await waitFor(async () => (await metric(system, 'analytics_ledger_cross_check_runs_total', 'outcome="ok"')) >= okBefore + 3, {
        what: 'three clean cross-check runs',
        timeoutMs: 60_000,
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}; runs by outcome ${JSON.stringify(await outcomes())}, drift accounts ${await metric(system, 'analytics_ledger_drift_accounts')}`);
    }
    expect(await metric(system, 'analytics_ledger_drift_accounts')).toBe(0);
    expect(await metric(system, 'analytics_ledger_drift_minor')).toBe(0);
    expect(await metric(system, 'analytics_ledger_cross_check_runs_total', 'outcome="error"')).toBe(0);
    expect(await metric(system, 'analytics_ledger_cross_check_accounts_checked_total')).toBeGreaterThan(0);

    // Behind the service's back: alice's 12.34 transfer_out disappears from the history.
    const victim = (await history()).find((op) => op.type === 'transfer_out' && op.amount === '12.34');
    expect(victim).toBeDefined();
    await clickhouse(server, `ALTER TABLE wallet_analytics.operations DELETE WHERE event_id = '${victim!.id}'`);
    await waitFor(async () => (await metric(system, 'analytics_ledger_drift_accounts')) === 1, { what: 'the drift to be reported', timeoutMs: 60_000 });
    expect(await metric(system, 'analytics_ledger_drift_minor')).toBe(1_234);
    expect(await metric(system, 'analytics_ledger_cross_check_runs_total', 'outcome="drift"')).toBeGreaterThan(0);
  });
});
