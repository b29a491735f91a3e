import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-node';
import { settleWithin } from '../async.js';
import { loadTracingConfig, type TracingConfig } from './config.js';

export interface TracingHandle {
  /** True when spans are sampled and exported (an endpoint, or a test exporter, is configured). */
  exporting: boolean;
  /** Flushes queued spans (bounded) and unregisters the provider; a later startTracing starts afresh. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** Export to this exporter instead of OTLP (tests: InMemorySpanExporter); sampler still from env. */
  exporter?: SpanExporter;
  /** Export each span as it ends (tests) instead of batching. */
  simpleProcessor?: boolean;
  /** Bound on the flush at shutdown. */
  shutdownTimeoutMs?: number;
}

/** Fits inside runService's default 10 s shutdown budget after the service's own steps. */
export const TRACING_SHUTDOWN_TIMEOUT_MS = 3000;

let active: TracingHandle | undefined;

function sampledBy(config: TracingConfig): Sampler {
  const ratio = new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio;
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio });
  }
}

function otlpExporter(config: TracingConfig, url: string): SpanExporter {
  const options = { url, timeoutMillis: config.exportTimeoutMs };
  return config.protocol === 'http/json' ? new OtlpJsonExporter(options) : new OtlpProtoExporter(options);
}

function processorFor(config: TracingConfig, exporter: SpanExporter, simple: boolean): SpanProcessor {
  if (simple) return new SimpleSpanProcessor(exporter);
  // Bounded queue: when full, new spans are dropped rather than memory growing.
  return new BatchSpanProcessor(exporter, {
    maxQueueSize: config.batch.queueSizeMax,
    maxExportBatchSize: config.batch.exportBatchSizeMax,
    scheduledDelayMillis: config.batch.scheduleDelayMs,
    exportTimeoutMillis: config.batch.exportTimeoutMs,
  });
}

function exporterFor(config: TracingConfig, options: TracingOptions): SpanExporter | null {
  if (options.exporter) return options.exporter;
  if (config.disabled || config.tracesUrl === null) return null;
  return otlpExporter(config, config.tracesUrl);
}

function createProvider(config: TracingConfig, exporter: SpanExporter | null, options: TracingOptions): NodeTracerProvider {
  return new NodeTracerProvider({
    resource: resourceFromAttributes({ ...config.resourceAttributes, 'service.name': config.serviceName }),
    // Without an exporter: spans are non-recording (near zero cost) but ids are still made and propagated.
    sampler: exporter ? sampledBy(config) : new AlwaysOffSampler(),
    spanLimits: {
      attributeValueLengthLimit: config.attributeValueLengthMax,
      attributeCountLimit: config.attributeCountMax,
      linkCountLimit: config.linkCountMax,
      eventCountLimit: config.eventCountMax,
    },
    spanProcessors: exporter ? [processorFor(config, exporter, options.simpleProcessor ?? false)] : [],
  });
}

/**
 * Once per process, before anything else (runService calls it; scripts/tests
 * may call it). Idempotent: a second call returns the first handle. Reads and
 * validates OTEL_* from env; a bad value throws ConfigError naming the variable.
 */
export function startTracing(service: string, env: NodeJS.ProcessEnv = process.env, options: TracingOptions = {}): TracingHandle {
  if (active) return active;
  const config = loadTracingConfig(service, env);
  // OTEL_SDK_DISABLED=true (the spec's switch): nothing registered at all, so no
  // AsyncLocalStorage context either (its promise hooks cost CPU on Node 20):
  // no spans, no propagation, no trace ids in logs. Without an endpoint (the
  // default) ids are still made and propagated for log correlation.
  if (config.disabled && !options.exporter) {
    const handle: TracingHandle = {
      exporting: false,
      shutdown: async () => {
        if (active === handle) active = undefined;
      },
    };
    active = handle;
    return handle;
  }
  const exporter = exporterFor(config, options);
  const provider = createProvider(config, exporter, options);
  const contextManager = new AsyncLocalStorageContextManager();
  provider.register({ contextManager, propagator: new W3CTraceContextPropagator() });
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? TRACING_SHUTDOWN_TIMEOUT_MS;
  const handle: TracingHandle = {
    exporting: exporter !== null,
    shutdown: async () => {
      if (active !== handle) return;
      active = undefined;
      await settleWithin(provider.shutdown(), shutdownTimeoutMs);
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
  active = handle;
  return handle;
}
