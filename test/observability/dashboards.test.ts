// The Grafana dashboards (deploy/observability/grafana/dashboards) parse, use
// the provisioned data sources, and every metric name in a dashboard query or
// a Prometheus rule is real: exported by a service (checked against a live
// /metrics scrape of the real system after one transfer and one top-up, so
// lazily created series exist), recorded by a rule, made by Prometheus itself,
// or an exporter metric listed in deploy/observability/exporter-metrics.yml.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { waitFor } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDotenv } from '../../scripts/check-deploy/compose-model.mjs';
import { ACCOUNT_A, ACCOUNT_B, ALICE, http, startSystem, type RunningSystem } from '../e2e/harness.js';
import { allRules, dashboards, familyOf, metricNames, observabilityDir, root } from './support.js';

/** Made by Prometheus itself, not by a target. */
const PROMETHEUS_BUILTIN = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE', 'scrape_duration_seconds', 'scrape_samples_scraped']);

interface ExporterList {
  exporters: { image_variable: string; image: string; prefix: string; metrics: string[] }[];
}
const exporterList = parse(readFileSync(join(observabilityDir, 'exporter-metrics.yml'), 'utf8')) as ExporterList;
const exporterPrefixes = exporterList.exporters.map((e) => e.prefix);
const exporterMetrics = new Set(exporterList.exporters.flatMap((e) => e.metrics));

/** Who owns a metric family, for the report of missing names (docs: the design's metric catalog). */
function ownerOf(name: string): string {
  const owners: [RegExp, string][] = [
    [/^bank_/, 'H2 bank-service'],
    [/^analytics_/, 'H3 analytics-service'],
    [/^card_adapter_/, 'H4 bank-card-adapter'],
    [/^payment_gateway_mock_/, 'H4 payment-gateway-mock'],
    [/^(gateway_|identity_)/, 'H5 api-gateway / identity-service'],
    [/^(http_server_|grpc_|nodejs_|process_|tls_)/, 'H1 platform'],
  ];
  return owners.find(([re]) => re.test(name))?.[1] ?? 'unknown';
}

const recorded = new Set(allRules().flatMap((r) => (r.record ? [r.record] : [])));
const boards = dashboards();
/** Every expression to check, with where it is. */
const expressions = [
  ...boards.flatMap((b) => b.expressions.map((expr) => ({ where: `dashboard ${b.uid}`, expr }))),
  ...allRules().map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: r.expr })),
];

describe('Grafana dashboards and provisioning', () => {
  const datasources = parse(readFileSync(join(observabilityDir, 'grafana', 'provisioning', 'datasources', 'datasources.yml'), 'utf8')) as {
    datasources: { uid: string; type: string; url: string }[];
  };

  it('has the four dashboards, each parsed, titled, with a unique uid and a description on every panel', () => {
    expect(boards.map((b) => b.uid).sort()).toEqual(['wallet-event-pipeline', 'wallet-infrastructure', 'wallet-money-flow', 'wallet-system-overview']);
    for (const board of boards) {
      expect(board.title, board.file).toMatch(/^E-wallet \/ /);
      const panels = (board.json.panels as { type: string; title: string; description?: string; targets?: { expr?: string }[] }[]).filter((p) => p.type !== 'row');
      expect(panels.length, board.uid).toBeGreaterThan(5);
      for (const panel of panels) {
        expect(panel.description, `${board.uid} / ${panel.title}: description`).toBeTruthy();
        expect(panel.targets?.length, `${board.uid} / ${panel.title}: queries`).toBeGreaterThan(0);
        for (const target of panel.targets ?? []) expect(target.expr, `${board.uid} / ${panel.title}: PromQL`).toBeTruthy();
      }
    }
  });

  it('queries only the provisioned Prometheus data source (by uid)', () => {
    const prometheus = datasources.datasources.find((d) => d.type === 'prometheus')!;
    expect(prometheus.url).toBe('http://prometheus:9090');
    expect(datasources.datasources.find((d) => d.type === 'jaeger')?.url).toBe('http://jaeger:16686');
    const uidsUsed = new Set<string>();
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') {
        const ds = (value as { datasource?: { uid?: string } }).datasource;
        if (ds && typeof ds === 'object' && ds.uid && !ds.uid.startsWith('-- ')) uidsUsed.add(ds.uid);
        Object.values(value).forEach(walk);
      }
    };
    for (const board of boards) walk(board.json.panels);
    expect([...uidsUsed]).toEqual([prometheus.uid]);
  });

  it('is provisioned from the folder compose mounts', () => {
    const provider = parse(readFileSync(join(observabilityDir, 'grafana', 'provisioning', 'dashboards', 'dashboards.yml'), 'utf8')) as {
      providers: { options: { path: string } }[];
    };
    const compose = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain(`./deploy/observability/grafana/dashboards:${provider.providers[0]!.options.path}:ro`);
    expect(compose).toContain('./deploy/observability/grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('extracts metric names from PromQL (functions, labels, by-lists, ranges and variables are not names)', () => {
    expect(metricNames('sum by (service, le) (rate(http_server_request_duration_seconds_bucket{status_code=~"5..",route="/a/:b"}[$__rate_interval]))')).toEqual([
      'http_server_request_duration_seconds_bucket',
    ]);
    expect(metricNames('slo:transfer_errors:ratio_rate1h > (14.4 * 0.001) and slo:transfer_errors:ratio_rate5m > 1e-3').sort()).toEqual([
      'slo:transfer_errors:ratio_rate1h',
      'slo:transfer_errors:ratio_rate5m',
    ]);
    expect(metricNames('(time() - max by (service) (a_seconds) > 600) and on (service) (sum by (service) (b_lag) > 0)').sort()).toEqual(['a_seconds', 'b_lag']);
    expect(metricNames('up == 0')).toEqual(['up']);
    expect(metricNames('histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m]))) / ignoring(le) y offset 1h').sort()).toEqual(['x_bucket', 'y']);
  });

  it('uses exporter metrics only from the allow-list, which names the exporter images pinned in .env', () => {
    const dotenv = parseDotenv(readFileSync(join(root, '.env'), 'utf8'));
    for (const exporter of exporterList.exporters) expect(dotenv[exporter.image_variable], exporter.image_variable).toBe(exporter.image);
    for (const { where, expr } of expressions) {
      for (const name of metricNames(expr).filter((n) => exporterPrefixes.some((p) => n.startsWith(p)))) {
        expect(exporterMetrics.has(name), `${where}: ${name} is in exporter-metrics.yml`).toBe(true);
      }
    }
    // Every listed name is used somewhere (the list does not rot).
    const used = new Set(expressions.flatMap(({ expr }) => metricNames(expr)));
    for (const name of exporterMetrics) expect(used.has(name), `exporter-metrics.yml: ${name} is used`).toBe(true);
  });
});

/** Families a Prometheus text exposition declares or samples, and the label names seen per sample name. */
function parseExposition(text: string): { names: Set<string>; labels: Map<string, Set<string>> } {
  const names = new Set<string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type;
      names.add(name!);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${name}${s}`);
      if (kind === 'summary') for (const s of ['_sum', '_count']) names.add(`${name}${s}`);
      continue;
    }
    const sample = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{([^}]*)\})?\s/.exec(line);
    if (!sample) continue;
    names.add(sample[1]!);
    const set = labels.get(sample[1]!) ?? new Set<string>();
    for (const m of (sample[3] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) set.add(m[1]!);
    labels.set(sample[1]!, set);
  }
  return { names, labels };
}

const hasInfra = Boolean(process.env.DATABASE_URL && process.env.KAFKA_BROKERS);
if (!hasInfra) console.warn('[dashboards.test] live scrape skipped: run through `npm test` (DATABASE_URL and KAFKA_BROKERS unset)');

describe.skipIf(!hasInfra)('metric names against a live scrape of every service', () => {
  let system: RunningSystem;
  const scraped = { names: new Set<string>(), labels: new Map<string, Set<string>>() };
  /** Each service's /metrics: the ops port (the gateway outside production serves it on its own port). */
  const metricsUrls = () => ({
    'api-gateway': `${system.baseUrl}/metrics`,
    'bank-service': `http://127.0.0.1:${system.ports.bankOps}/metrics`,
    'bank-card-adapter': `http://127.0.0.1:${system.ports.cardAdapterOps}/metrics`,
    'analytics-service': `http://127.0.0.1:${system.ports.analyticsOps}/metrics`,
    'identity-service': `http://127.0.0.1:${system.ports.identityOps}/metrics`,
    'payment-gateway-mock': `http://127.0.0.1:${system.ports.paymentGatewayMockOps}/metrics`,
  });
  const fetchMetrics = async (service: string, url: string) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    expect(res.status, `${service}: GET ${url}`).toBe(200);
    return res.text();
  };

  /**
   * POSTs with one Idempotency-Key; an unknown outcome (504, or 503 on a cold
   * system on a busy machine) or a 409 (the first attempt still in flight) is
   * retried with the same key, as a client must, until a final answer or a deadline.
   */
  const postOnce = async (path: string, body: unknown, headers: Record<string, string>) => {
    const key = randomUUID();
    const retryable = new Set([409, 503, 504]);
    let last: Awaited<ReturnType<typeof http>> | undefined;
    try {
      return await waitFor(
        async () => {
          last = await http(system.baseUrl, 'POST', path, { body, headers: { ...headers, 'Idempotency-Key': key } });
          return retryable.has(last.status) ? undefined : last;
        },
        { what: `a final answer to POST ${path}`, timeoutMs: 60_000, intervalMs: 500 },
      );
    } catch (error) {
      if (last) return last;
      throw error;
    }
  };

  beforeAll(async () => {
    system = await startSystem({ analytics: true, cardAdapter: true });
    const headers = await system.as(ALICE);
    // One transfer and one top-up, so that series created on first use exist.
    const transfer = await postOnce(`/accounts/${ACCOUNT_A}/transfers`, { recipientAccountId: ACCOUNT_B, amount: '1.00' }, headers);
    expect(transfer.status, JSON.stringify(transfer.body)).toBe(201);
    const card = { number: '4242424242424242', expiryMonth: 12, expiryYear: new Date().getUTCFullYear() + 3, cvc: '123', holderName: 'Ada Lovelace' };
    const topUp = await postOnce(`/accounts/${ACCOUNT_A}/topup`, { amount: '5.00', card }, headers);
    expect(topUp.status, JSON.stringify(topUp.body)).toBe(201);
    // The history rows reached ClickHouse: the pipeline's series exist too.
    await waitFor(
      async () => {
        const page = await http(system.baseUrl, 'GET', `/accounts/${ACCOUNT_A}/operations`, { headers });
        return (page.body.items as { transferId?: string; topUpId?: string }[] | undefined)?.some((o) => o.topUpId === topUp.body.id);
      },
      { what: 'the top-up in the history', timeoutMs: 60_000, intervalMs: 250 },
    );
    for (const [service, url] of Object.entries(metricsUrls())) {
      const one = parseExposition(await fetchMetrics(service, url));
      for (const name of one.names) scraped.names.add(name);
      for (const [name, set] of one.labels) scraped.labels.set(name, new Set([...(scraped.labels.get(name) ?? []), ...set]));
    }
  }, 240_000);
  afterAll(async () => {
    await system?.stop();
  });

  it('every metric name in the dashboards and rules is exported, recorded, built in, or an allow-listed exporter metric', () => {
    const missing = new Map<string, Set<string>>();
    for (const { where, expr } of expressions) {
      for (const name of metricNames(expr)) {
        if (recorded.has(name) || PROMETHEUS_BUILTIN.has(name)) continue;
        if (exporterPrefixes.some((p) => name.startsWith(p)) && exporterMetrics.has(name)) continue;
        if (familyOf(name).some((n) => scraped.names.has(n))) continue;
        missing.set(name, new Set([...(missing.get(name) ?? []), where]));
      }
    }
    const report = [...missing].map(([name, where]) => `${name} (owner ${ownerOf(name)}; used by ${[...where].join(', ')})`);
    if (report.length > 0) console.warn(`[dashboards.test] metric names no service exports:\n  ${report.join('\n  ')}`);
    expect(report).toEqual([]);
  });

  it('the transfer SLO selector matches what the gateway exports (service, method, route template, status_code)', () => {
    const labels = scraped.labels.get('http_server_request_duration_seconds_count');
    expect(labels, 'http_server_request_duration_seconds_count sampled').toBeDefined();
    for (const label of ['service', 'method', 'route', 'status_code']) expect(labels, label).toContain(label);
    const bucketLabels = scraped.labels.get('http_server_request_duration_seconds_bucket');
    expect(bucketLabels).toContain('le');
  });

  it('the gateway counted the transfer under the route the SLO rules select', async () => {
    const text = await fetchMetrics('api-gateway', metricsUrls()['api-gateway']);
    const line = text
      .split('\n')
      .find((l) => l.startsWith('http_server_request_duration_seconds_count{') && l.includes('route="/accounts/:accountId/transfers"') && l.includes('method="POST"'));
    expect(line, 'a POST /accounts/:accountId/transfers sample').toBeDefined();
    expect(line).toContain('service="api-gateway"');
    // The SLO's latency threshold is a bucket boundary.
    expect(text).toMatch(/http_server_request_duration_seconds_bucket\{[^}]*le="0\.5"[^}]*route="\/accounts\/:accountId\/transfers"|http_server_request_duration_seconds_bucket\{[^}]*route="\/accounts\/:accountId\/transfers"[^}]*le="0\.5"/);
  });

  it('label names in the rules selectors exist on the metrics they select', () => {
    const problems: string[] = [];
    for (const { where, expr } of expressions) {
      const clean = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
      for (const m of clean.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\{([^}]*)\}/g)) {
        const seen = scraped.labels.get(m[1]!);
        if (!seen) continue;
        for (const label of [...m[2]!.matchAll(/([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)/g)].map((x) => x[1]!)) {
          if (!seen.has(label)) problems.push(`${where}: ${m[1]} has no label ${label}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
