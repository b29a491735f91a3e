import { ConfigError } from '../config.js';

export type SamplerName =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

const SAMPLERS: readonly SamplerName[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** Everything startTracing reads from OTEL_* variables, validated. */
export interface TracingConfig {
  disabled: boolean;
  serviceName: string;
  resourceAttributes: Record<string, string>;
  /** Full URL of the traces endpoint, or null: no export (always-off sampler, ids still made). */
  tracesUrl: string | null;
  protocol: OtlpProtocol;
  exportTimeoutMs: number;
  sampler: SamplerName;
  samplerRatio: number;
  attributeValueLengthMax: number;
  attributeCountMax: number;
  linkCountMax: number;
  eventCountMax: number;
  batch: { queueSizeMax: number; exportBatchSizeMax: number; scheduleDelayMs: number; exportTimeoutMs: number };
}

type Env = NodeJS.ProcessEnv;

/** Reads env[name] as trimmed string; empty means unset (as loadConfig does). */
function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

class Problems {
  readonly list: string[] = [];
  add(name: string, message: string): void {
    this.list.push(`${name}: ${message}`);
  }
}

function intVar(env: Env, problems: Problems, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    problems.add(name, `must be an integer from ${min} to ${max} (got "${raw.slice(0, 40)}")`);
    return fallback;
  }
  return value;
}

function boolVar(env: Env, problems: Problems, name: string): boolean {
  const raw = read(env, name)?.toLowerCase();
  if (raw === undefined || raw === 'false') return false;
  if (raw === 'true') return true;
  problems.add(name, 'must be true or false');
  return false;
}

function httpUrl(problems: Problems, name: string, raw: string): URL | null {
  try {
    const url = new URL(raw);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url;
  } catch {
    // reported below
  }
  problems.add(name, 'must be an http:// or https:// URL');
  return null;
}

/** Signal-specific endpoint as given; the generic one gets /v1/traces appended (OTLP spec). */
function tracesUrl(env: Env, problems: Problems): string | null {
  const specific = read(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (specific !== undefined) return httpUrl(problems, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', specific)?.toString() ?? null;
  const generic = read(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (generic === undefined) return null;
  const url = httpUrl(problems, 'OTEL_EXPORTER_OTLP_ENDPOINT', generic);
  if (!url) return null;
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.toString();
}

function protocol(env: Env, problems: Problems): OtlpProtocol {
  const name = read(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const raw = read(env, name) ?? 'http/protobuf';
  if (raw === 'http/protobuf' || raw === 'http/json') return raw;
  problems.add(name, `must be http/protobuf or http/json (grpc is not supported), got "${raw.slice(0, 40)}"`);
  return 'http/protobuf';
}

function sampler(env: Env, problems: Problems): { sampler: SamplerName; samplerRatio: number } {
  const raw = read(env, 'OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  const known = SAMPLERS.find((name) => name === raw);
  if (!known) problems.add('OTEL_TRACES_SAMPLER', `must be one of ${SAMPLERS.join(', ')} (got "${raw.slice(0, 40)}")`);
  const name = known ?? 'parentbased_always_on';
  const arg = read(env, 'OTEL_TRACES_SAMPLER_ARG');
  // The argument only means something to the ratio samplers (spec: ignored otherwise).
  if (!name.endsWith('traceidratio') || arg === undefined) return { sampler: name, samplerRatio: 1 };
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    problems.add('OTEL_TRACES_SAMPLER_ARG', `must be a number from 0 to 1 (got "${arg.slice(0, 40)}")`);
    return { sampler: name, samplerRatio: 1 };
  }
  return { sampler: name, samplerRatio: ratio };
}

/** OTEL_RESOURCE_ATTRIBUTES: key=value pairs, comma-separated, values percent-encoded (W3C baggage style). */
function resourceAttributes(env: Env, problems: Problems): Record<string, string> {
  const raw = read(env, 'OTEL_RESOURCE_ATTRIBUTES');
  const attributes: Record<string, string> = {};
  if (raw === undefined) return attributes;
  for (const pair of raw.split(',')) {
    const [key, value, ...rest] = pair.split('=');
    const name = key?.trim();
    if (!name || value === undefined || rest.length > 0) {
      problems.add('OTEL_RESOURCE_ATTRIBUTES', 'must be key=value pairs separated by commas');
      return {};
    }
    try {
      attributes[name] = decodeURIComponent(value.trim());
    } catch {
      problems.add('OTEL_RESOURCE_ATTRIBUTES', `value of ${name.slice(0, 40)} is not valid percent-encoding`);
      return {};
    }
  }
  return attributes;
}

function limits(env: Env, problems: Problems) {
  const generic = intVar(env, problems, 'OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT', 1024, 1, 1_048_576);
  return {
    attributeValueLengthMax: intVar(env, problems, 'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT', generic, 1, 1_048_576),
    attributeCountMax: intVar(env, problems, 'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT', 128, 1, 10_000),
    linkCountMax: intVar(env, problems, 'OTEL_SPAN_LINK_COUNT_LIMIT', 128, 0, 10_000),
    eventCountMax: intVar(env, problems, 'OTEL_SPAN_EVENT_COUNT_LIMIT', 128, 0, 10_000),
  };
}

function batch(env: Env, problems: Problems): TracingConfig['batch'] {
  const queueSizeMax = intVar(env, problems, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1, 1_000_000);
  const exportBatchSizeMax = intVar(env, problems, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1, 1_000_000);
  if (exportBatchSizeMax > queueSizeMax) problems.add('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'must not exceed OTEL_BSP_MAX_QUEUE_SIZE');
  return {
    queueSizeMax,
    exportBatchSizeMax: Math.min(exportBatchSizeMax, queueSizeMax),
    scheduleDelayMs: intVar(env, problems, 'OTEL_BSP_SCHEDULE_DELAY', 5000, 0, 600_000),
    exportTimeoutMs: intVar(env, problems, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1, 600_000),
  };
}

/** OTEL_SERVICE_NAME wins over service.name in OTEL_RESOURCE_ATTRIBUTES (spec); else the service's own name. */
function serviceName(env: Env, attributes: Record<string, string>, fallback: string): string {
  return read(env, 'OTEL_SERVICE_NAME') ?? attributes['service.name'] ?? fallback;
}

/** Validates every OTEL_* variable we honour; a bad one is a ConfigError naming it. */
export function loadTracingConfig(service: string, env: Env = process.env): TracingConfig {
  const problems = new Problems();
  const timeoutName = read(env, 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT') ? 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT' : 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const attributes = resourceAttributes(env, problems);
  const config: TracingConfig = {
    disabled: boolVar(env, problems, 'OTEL_SDK_DISABLED'),
    serviceName: serviceName(env, attributes, service),
    resourceAttributes: attributes,
    tracesUrl: tracesUrl(env, problems),
    protocol: protocol(env, problems),
    exportTimeoutMs: intVar(env, problems, timeoutName, 10_000, 1, 600_000),
    ...sampler(env, problems),
    ...limits(env, problems),
    batch: batch(env, problems),
  };
  if (problems.list.length > 0) throw new ConfigError(problems.list);
  return config;
}
