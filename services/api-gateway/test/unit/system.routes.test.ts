import { freePort } from '@wallet/testkit';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { aggregate, ErrorRateWindow, parseMetrics, parseOpsTargets, SYSTEM_METRICS } from '../../src/routes/system.js';
import { ADMIN_USER, ALICE_USER, startTestGateway, SUPPORT_USER, type TestGateway } from '../support/gateway.js';

// GET /admin/system reads each service's own ops endpoints: here loopback stand-ins (inject checks every answer against openapi.yaml)
// answering /readyz and /metrics as the platform's ops server does.

type OpsAnswer = (path: string, response: ServerResponse) => void;

async function startOps(answer: OpsAnswer): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => answer(request.url ?? '/', response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const readyOk = (metrics: string): OpsAnswer => (path, response) => {
  if (path === '/readyz') {
    response.writeHead(200, { 'content-type': 'application/json' });
    return response.end(JSON.stringify({ status: 'ok', checks: { database: 'ok' } }));
  }
  response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  return response.end(metrics);
};

const BANK_METRICS = `# HELP bank_outbox_pending_events Unpublished outbox events
# TYPE bank_outbox_pending_events gauge
bank_outbox_pending_events{service="bank-service"} 42
bank_outbox_oldest_event_age_seconds 1.5
bank_transfers_total{status="completed"} 900
`;
const ANALYTICS_METRICS = `analytics_consumer_lag{topic="wallet.operations",partition="0"} 3
analytics_consumer_lag{topic="wallet.operations",partition="1"} 4
analytics_dlq_produced_total 2
`;
const CARD_METRICS = 'card_adapter_unfinished_top_ups 1\ncard_adapter_oldest_unfinished_top_up_age_seconds 75\n';

describe('GET /admin/system', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()!();
  });

  async function setUp(): Promise<TestGateway> {
    const bank = await startOps(readyOk(BANK_METRICS));
    const analytics = await startOps(readyOk(ANALYTICS_METRICS));
    const card = await startOps((path, response) => {
      if (path === '/readyz') {
        response.writeHead(503, { 'content-type': 'application/json' });
        return response.end(JSON.stringify({ status: 'unavailable', checks: { database: 'ok', bank: 'connection refused' } }));
      }
      return readyOk(CARD_METRICS)(path, response);
    });
    const silent = await startOps(() => undefined); // accepts, never answers
    const refused = `http://127.0.0.1:${await freePort()}`;
    cleanups.push(() => bank.close(), () => analytics.close(), () => card.close(), () => silent.close());
    const gw = await startTestGateway({
      config: {
        GATEWAY_SYSTEM_OPS_URLS: `bank-service=${bank.url},analytics-service=${analytics.url},bank-card-adapter=${card.url},identity-service=${silent.url},payment-gateway-mock=${refused}`,
        GATEWAY_SYSTEM_PROBE_TIMEOUT_MS: 3_000, // generous: a busy test machine is slow, and only the silent stand-in waits it out
      },
    });
    cleanups.push(() => gw.close());
    return gw;
  }

  it('support and admin get every service\'s readiness and the figures from their metrics; a silent or dead service is ready:false, never a 5xx', async () => {
    const gw = await setUp();
    for (const sub of [SUPPORT_USER, ADMIN_USER]) {
      const roles = sub === SUPPORT_USER ? ['support'] : ['admin'];
      const res = await gw.inject({ method: 'GET', url: '/admin/system', auth: await gw.bearer(sub, roles) });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      const byName: Record<string, { ready: boolean; detail?: string }> = Object.fromEntries((body.services as { name: string; ready: boolean }[]).map((s) => [s.name, s]));
      expect(byName['api-gateway']).toMatchObject({ ready: true });
      expect(byName['bank-service']).toMatchObject({ ready: true });
      expect(byName['analytics-service']).toMatchObject({ ready: true });
      expect(byName['bank-card-adapter']).toMatchObject({ ready: false, detail: 'bank: connection refused' });
      expect(byName['identity-service']).toMatchObject({ ready: false, detail: 'no answer within the deadline' });
      expect(byName['payment-gateway-mock']).toMatchObject({ ready: false });
      expect(byName['payment-gateway-mock']?.detail).toMatch(/^unreachable/);
      expect(body.outbox).toEqual({ pending: 42, oldestAgeSeconds: 1.5 });
      expect(body.consumerLag).toEqual({
        total: 7,
        partitions: [{ topic: 'wallet.operations', partition: 0, lag: 3 }, { topic: 'wallet.operations', partition: 1, lag: 4 }],
      });
      // A service that is not ready still reports its figures.
      expect(body.stuckTopUps).toEqual({ count: 1, oldestAgeSeconds: 75 });
      expect(body.dlq).toEqual({ count: 2 });
      expect(body.errorRate).toMatchObject({ requests: expect.any(Number), serverErrors: 0 });
      expect(Date.parse(body.at)).not.toBeNaN();
    }
  });

  it('a customer gets 403 forbidden and no token 401', async () => {
    const gw = await setUp();
    const customer = await gw.inject({ method: 'GET', url: '/admin/system', auth: await gw.bearer(ALICE_USER, ['customer']) });
    expect(customer.statusCode).toBe(403);
    const anonymous = await gw.inject({ method: 'GET', url: '/admin/system', auth: false });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('system state parts', () => {
  it('parses name=url targets and refuses anything else, naming the variable', () => {
    expect(parseOpsTargets('bank-service=http://127.0.0.1:9101/, bank-service=http://10.0.0.2:9101')).toEqual([
      { name: 'bank-service', url: 'http://127.0.0.1:9101' },
      { name: 'bank-service', url: 'http://10.0.0.2:9101' },
    ]);
    expect(() => parseOpsTargets('bank-service')).toThrow(/GATEWAY_SYSTEM_OPS_URLS/);
    expect(() => parseOpsTargets('x=ftp://h')).toThrow(/GATEWAY_SYSTEM_OPS_URLS/);
  });

  it('reads only the wanted samples, with labels, skipping comments and malformed lines', () => {
    const text = '# HELP x\nbank_outbox_pending_events 5\nanalytics_consumer_lag{topic="t",partition="2"} 9\ngarbage line\nbank_outbox_pending_events NaN\nother_metric 1\n';
    expect(parseMetrics(text, SYSTEM_METRICS)).toEqual([
      { name: 'bank_outbox_pending_events', labels: {}, value: 5 },
      { name: 'analytics_consumer_lag', labels: { topic: 't', partition: '2' }, value: 9 },
    ]);
  });

  it('aggregates replicas: the outbox leader\'s gauge (max), DLQ counters summed, a partition reported twice counted once; null when nobody answered', () => {
    const samples = parseMetrics(
      'bank_outbox_pending_events 0\nbank_outbox_pending_events 12\nanalytics_dlq_produced_total 1\nanalytics_dlq_produced_total 2\n'
        + 'analytics_consumer_lag{topic="t",partition="0"} 5\nanalytics_consumer_lag{topic="t",partition="0"} 6\n',
      SYSTEM_METRICS,
    );
    const figures = aggregate(samples);
    expect(figures.outbox.pending).toBe(12);
    expect(figures.dlq.count).toBe(3);
    expect(figures.consumerLag).toEqual({ total: 6, partitions: [{ topic: 't', partition: 0, lag: 6 }] });
    expect(figures.stuckTopUps).toEqual({ count: null, oldestAgeSeconds: null });
    expect(aggregate([]).consumerLag).toEqual({ total: null, partitions: [] });
  });

  it('computes the error rate over the window from the sample at its start', () => {
    const window = new ErrorRateWindow(60_000);
    window.add({ atMs: 0, requests: 0, serverErrors: 0 });
    expect(window.rate({ atMs: 30_000, requests: 10, serverErrors: 1 })).toEqual({ windowSeconds: 30, requests: 10, serverErrors: 1 });
    for (let t = 10_000; t <= 120_000; t += 10_000) window.add({ atMs: t, requests: t / 1000, serverErrors: t / 10_000 });
    expect(window.rate({ atMs: 125_000, requests: 125, serverErrors: 12 })).toEqual({ windowSeconds: 65, requests: 65, serverErrors: 6 });
  });
});
