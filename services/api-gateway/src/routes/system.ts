// GET /admin/system: the operator console's view of the system, read from each
// service's own ops endpoints (/readyz, /metrics) and this gateway's request
// counters. Every probe has a deadline and a size bound; a service that does
// not answer is reported ready:false, never turned into a 5xx.
import { hostname } from 'node:os';
import { hasRole } from '@wallet/platform/auth';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { fetch } from 'undici';
import { forbidden, principalOf } from '../plugins/auth.js';
import { operationRoute } from '../plugins/openapi-validation.js';
import type { RouteDeps } from './deps.js';

export interface OpsTarget {
  name: string;
  /** Base URL of the service's plain-HTTP ops listener, e.g. http://127.0.0.1:9101. */
  url: string;
}

export const OPS_TARGETS_MAX = 64;
/** A /metrics answer larger than this is cut off (ours are ~50-200 KiB). */
export const METRICS_BYTES_MAX = 2 * 1024 * 1024;
const READYZ_BYTES_MAX = 16 * 1024;
const DETAIL_CHARS_MAX = 200;

/** `name=url,name=url`: several entries with one name are replicas of that service. */
export function parseOpsTargets(value: string): OpsTarget[] {
  const entries = value.split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  if (entries.length > OPS_TARGETS_MAX) throw new Error(`GATEWAY_SYSTEM_OPS_URLS: at most ${OPS_TARGETS_MAX} entries`);
  return entries.map((entry) => {
    const match = /^([a-z0-9-]{1,64})=(https?:\/\/[^\s,]+)$/.exec(entry);
    if (!match || !URL.canParse(match[2]!)) throw new Error(`GATEWAY_SYSTEM_OPS_URLS: "${entry.slice(0, 80)}" is not name=http(s)://host:port`);
    return { name: match[1]!, url: match[2]!.replace(/\/+$/, '') };
  });
}

/** One Prometheus text-format sample (the subset prom-client writes: no timestamps, no exemplars). */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Samples of the wanted metric names only; malformed lines are skipped. */
export function parseMetrics(text: string, wanted: ReadonlySet<string>): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match || !wanted.has(match[1]!)) continue;
    const value = Number(match[3]);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(LABEL_PAIR)) labels[pair[1]!] = pair[2]!.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: match[1]!, labels, value });
  }
  return samples;
}

async function readBounded(response: Awaited<ReturnType<typeof fetch>>, bytesMax: number): Promise<string> {
  if (response.body === null) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of response.body) {
    total += chunk.byteLength;
    if (total > bytesMax) {
      await response.body.cancel().catch(() => undefined);
      throw new Error(`answer larger than ${bytesMax} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface ServiceState {
  name: string;
  instance: string;
  ready: boolean;
  detail?: string;
}

interface Probe {
  state: ServiceState;
  samples: Sample[];
}

/** Why a readiness answer is not ok: the failing checks, briefly. */
function notReadyDetail(status: number, body: string): string {
  try {
    const checks = (JSON.parse(body) as { checks?: Record<string, unknown> }).checks ?? {};
    const failing = Object.entries(checks).filter(([, v]) => v !== 'ok').map(([k, v]) => `${k}: ${String(v)}`);
    if (failing.length > 0) return failing.join('; ').slice(0, DETAIL_CHARS_MAX);
  } catch {
    // not JSON: the status says enough
  }
  return `readiness answered HTTP ${status}`;
}

function failureDetail(error: unknown): string {
  const name = (error as { name?: string } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return 'no answer within the deadline';
  const code = (error as { cause?: { code?: string } } | null)?.cause?.code;
  return code ? `unreachable (${code})` : 'unreachable';
}

async function get(url: string, timeoutMs: number, bytesMax: number): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  return { status: response.status, body: await readBounded(response, bytesMax) };
}

/** /readyz and /metrics of one instance, both within timeoutMs. */
export async function probe(target: OpsTarget, timeoutMs: number, wanted: ReadonlySet<string>): Promise<Probe> {
  const instance = new URL(target.url).host;
  const [ready, metrics] = await Promise.allSettled([get(`${target.url}/readyz`, timeoutMs, READYZ_BYTES_MAX), get(`${target.url}/metrics`, timeoutMs, METRICS_BYTES_MAX)]);
  const samples = metrics.status === 'fulfilled' && metrics.value.status === 200 ? parseMetrics(metrics.value.body, wanted) : [];
  if (ready.status === 'rejected') return { state: { name: target.name, instance, ready: false, detail: failureDetail(ready.reason) }, samples };
  if (ready.value.status !== 200) return { state: { name: target.name, instance, ready: false, detail: notReadyDetail(ready.value.status, ready.value.body) }, samples };
  return { state: { name: target.name, instance, ready: true }, samples };
}

/** The metrics the console shows, by the service that exports them. */
export const SYSTEM_METRICS = new Set([
  'bank_outbox_pending_events',
  'bank_outbox_oldest_event_age_seconds',
  'analytics_consumer_lag',
  'analytics_dlq_produced_total',
  'card_adapter_unfinished_top_ups',
  'card_adapter_oldest_unfinished_top_up_age_seconds',
]);

export interface SystemFigures {
  outbox: { pending: number | null; oldestAgeSeconds: number | null };
  consumerLag: { total: number | null; partitions: { topic: string; partition: number; lag: number }[] };
  stuckTopUps: { count: number | null; oldestAgeSeconds: number | null };
  dlq: { count: number | null };
}

const valuesOf = (samples: readonly Sample[], name: string): number[] => samples.filter((s) => s.name === name).map((s) => s.value);
const maxOrNull = (values: number[]): number | null => (values.length === 0 ? null : Math.max(...values));

/**
 * Replicas: the outbox gauges are the relay leader's (others report 0), the
 * top-up gauges are read from the shared journal by each replica: the maximum
 * is the system's value. DLQ counters are per replica: summed. A partition's lag
 * is reported by the replica consuming it; after a hand-over both may: maximum.
 * null: no instance of that service answered /metrics.
 */
export function aggregate(samples: readonly Sample[]): SystemFigures {
  const lagByPartition = new Map<string, { topic: string; partition: number; lag: number }>();
  for (const s of samples.filter((x) => x.name === 'analytics_consumer_lag')) {
    const topic = s.labels.topic ?? '';
    const partition = Number(s.labels.partition ?? -1);
    const key = `${topic}/${partition}`;
    const seen = lagByPartition.get(key);
    if (!seen || seen.lag < s.value) lagByPartition.set(key, { topic, partition, lag: s.value });
  }
  const partitions = [...lagByPartition.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  const dlq = valuesOf(samples, 'analytics_dlq_produced_total');
  return {
    outbox: { pending: maxOrNull(valuesOf(samples, 'bank_outbox_pending_events')), oldestAgeSeconds: maxOrNull(valuesOf(samples, 'bank_outbox_oldest_event_age_seconds')) },
    consumerLag: { total: partitions.length === 0 ? null : partitions.reduce((sum, p) => sum + p.lag, 0), partitions },
    stuckTopUps: {
      count: maxOrNull(valuesOf(samples, 'card_adapter_unfinished_top_ups')),
      oldestAgeSeconds: maxOrNull(valuesOf(samples, 'card_adapter_oldest_unfinished_top_up_age_seconds')),
    },
    dlq: { count: dlq.length === 0 ? null : dlq.reduce((sum, v) => sum + v, 0) },
  };
}

interface RequestCounts {
  atMs: number;
  requests: number;
  serverErrors: number;
}

/** This gateway's answers so far, from its own http_server_request_duration_seconds. */
export async function requestCounts(registry: Registry, nowMs: number): Promise<RequestCounts> {
  const metric = registry.getSingleMetric('http_server_request_duration_seconds');
  if (!metric) return { atMs: nowMs, requests: 0, serverErrors: 0 };
  const { values } = await metric.get();
  let requests = 0;
  let serverErrors = 0;
  for (const v of values) {
    // A histogram's values carry their series name (_bucket, _sum, _count).
    if ((v as { metricName?: string }).metricName !== 'http_server_request_duration_seconds_count') continue;
    requests += v.value;
    if (Number(v.labels.status_code) >= 500) serverErrors += v.value;
  }
  return { atMs: nowMs, requests, serverErrors };
}

/**
 * Counts sampled every sampleIntervalMs, kept for windowMs: the recent error
 * rate is the difference between now and the oldest kept sample.
 */
export class ErrorRateWindow {
  private readonly samples: RequestCounts[] = [];
  constructor(private readonly windowMs: number) {}

  add(counts: RequestCounts): void {
    this.samples.push(counts);
    // Keep one sample at or before the window's start, so the window is full once it can be.
    while (this.samples.length > 2 && this.samples[1]!.atMs <= counts.atMs - this.windowMs) this.samples.shift();
  }

  rate(current: RequestCounts): { windowSeconds: number; requests: number; serverErrors: number } {
    // The newest sample at or before the window's start; until the window is full, the oldest one.
    const base = this.samples.filter((s) => s.atMs <= current.atMs - this.windowMs).at(-1) ?? this.samples[0] ?? current;
    return {
      windowSeconds: Math.max(0, Math.round((current.atMs - base.atMs) / 1000)),
      requests: Math.max(0, current.requests - base.requests),
      serverErrors: Math.max(0, current.serverErrors - base.serverErrors),
    };
  }
}

export interface SystemRouteOptions {
  registry: Registry;
  targets: readonly OpsTarget[];
  probeTimeoutMs: number;
  errorWindowSeconds: number;
  now?: () => number;
}

const SAMPLE_INTERVAL_MS = 10_000;

/** GET /admin/system for support and admin; sampling of the error rate runs while the server is open. */
export function registerSystemRoutes(app: FastifyInstance, { spec }: RouteDeps, options: SystemRouteOptions): void {
  const now = options.now ?? Date.now;
  const window = new ErrorRateWindow(options.errorWindowSeconds * 1000);
  const sample = () => void requestCounts(options.registry, now()).then((counts) => window.add(counts), () => undefined);
  sample();
  const timer = setInterval(sample, SAMPLE_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => clearInterval(timer));
  const self: ServiceState = { name: 'api-gateway', instance: `${hostname()}:${process.pid}`, ready: true };

  app.route({
    ...operationRoute(spec.operation('getSystemState')),
    handler: async (request, reply) => {
      const principal = principalOf(request);
      if (!hasRole(principal, 'support') && !hasRole(principal, 'admin')) throw forbidden('Only support and admin may read the system state.');
      const probes = await Promise.all(options.targets.map((target) => probe(target, options.probeTimeoutMs, SYSTEM_METRICS)));
      const counts = await requestCounts(options.registry, now());
      return reply.header('cache-control', 'no-store').send({
        services: [self, ...probes.map((p) => p.state)],
        ...aggregate(probes.flatMap((p) => p.samples)),
        errorRate: window.rate(counts),
        at: new Date(now()).toISOString(),
      });
    },
  });
}
