// gRPC spans and RED histograms over a real grpc-js server and client on
// loopback with mutual TLS (the test PKI), as the services use them.
import { makeGenericClientConstructor, status, type Client, type Metadata, type ServiceError } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callUnary, createGrpcClient, richError, startGrpcServer, type RunningGrpcServer } from '@wallet/platform';
import { InMemorySpanExporter, SpanKind, SpanStatusCode, startTracing, withSpan, type ReadableSpan, type TracingHandle } from '@wallet/platform/tracing';
import { testClientTransport, testGrpcSecurity } from '../../../../test/support/pki.js';

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (buffer: Buffer): unknown => JSON.parse(buffer.toString()) as unknown,
};
function unary(name: string) {
  return {
    path: `/wallet.test.v1.Probe/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: name,
  };
}
const definition = { lookUp: unary('LookUp'), fail: unary('Fail') };
type Unary = (request: unknown, metadata: Metadata, options: object, callback: (error: ServiceError | null, response: unknown) => void) => unknown;
type ProbeClient = Client & { lookUp: Unary; fail: Unary };
const ProbeClient = makeGenericClientConstructor(definition, 'Probe');

const exporter = new InMemorySpanExporter();
const serverRegistry = new Registry();
const clientRegistry = new Registry();
let tracing: TracingHandle;
let server: RunningGrpcServer;
let client: ProbeClient;

beforeAll(async () => {
  tracing = startTracing('grpc-tracing-test', {}, { exporter, simpleProcessor: true });
  const security = await testGrpcSecurity('bank-service');
  server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    credentials: security.serverCredentials(),
    registry: serverRegistry,
    services: [
      {
        name: 'wallet.test.v1.Probe',
        definition,
        implementation: {
          // A child span inside the handler must parent to the SERVER span.
          lookUp: (_call: unknown, callback: (error: null, value: unknown) => void) => {
            void withSpan('handler.work', {}, () => undefined).then(() => callback(null, { found: true }));
          },
          fail: (_call: unknown, callback: (error: ServiceError) => void) => {
            callback(richError({ code: status.NOT_FOUND, reason: 'ACCOUNT_NOT_FOUND', domain: 'test', message: 'account 42 not found' }));
          },
        },
      },
    ],
  });
  const transport = await testClientTransport('bank-service', 'api-gateway');
  client = createGrpcClient(ProbeClient, `127.0.0.1:${server.port}`, transport, { registry: clientRegistry }) as unknown as ProbeClient;
});

afterEach(() => exporter.reset());

afterAll(async () => {
  client?.close();
  await server?.shutdown(1000);
  await tracing?.shutdown();
});

function spanNamed(spans: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan {
  const span = spans.find((candidate) => candidate.name === name && candidate.kind === kind);
  if (!span) throw new Error(`no ${SpanKind[kind]} span ${name} in ${spans.map((s) => s.name).join(', ')}`);
  return span;
}

async function histogramCount(registry: Registry, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((entry) => entry.name === name);
  const sample = metric?.values.find(
    (value) => (value as { metricName?: string }).metricName === `${name}_count` && Object.entries(labels).every(([key, expected]) => value.labels[key] === expected),
  );
  return sample?.value ?? 0;
}

describe('gRPC tracing', () => {
  it('client and server spans share the trace: caller -> CLIENT -> SERVER -> handler span', async () => {
    await withSpan('caller', {}, () => callUnary(client, client.lookUp, { id: 1 }, { timeoutMs: 5000, headers: { authorization: 'Bearer secret-token-123' } }));
    const spans = exporter.getFinishedSpans();
    const caller = spanNamed(spans, 'caller', SpanKind.INTERNAL);
    const clientSpan = spanNamed(spans, 'wallet.test.v1.Probe/LookUp', SpanKind.CLIENT);
    const serverSpan = spanNamed(spans, 'wallet.test.v1.Probe/LookUp', SpanKind.SERVER);
    const work = spanNamed(spans, 'handler.work', SpanKind.INTERNAL);
    const traceId = caller.spanContext().traceId;
    for (const span of [clientSpan, serverSpan, work]) expect(span.spanContext().traceId).toBe(traceId);
    expect(clientSpan.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    expect(work.parentSpanContext?.spanId).toBe(serverSpan.spanContext().spanId);
    expect(serverSpan.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'wallet.test.v1.Probe', 'rpc.method': 'LookUp', 'rpc.grpc.status_code': 0 });
    expect(clientSpan.attributes).toMatchObject({ 'rpc.grpc.status_code': 0, 'server.address': '127.0.0.1', 'server.port': server.port });
    expect(JSON.stringify(spans.map((span) => span.attributes))).not.toContain('secret-token-123');
  });

  it('a call without a caller span starts a new trace at the client', async () => {
    await callUnary(client, client.lookUp, {}, { timeoutMs: 5000 });
    const clientSpan = spanNamed(exporter.getFinishedSpans(), 'wallet.test.v1.Probe/LookUp', SpanKind.CLIENT);
    const serverSpan = spanNamed(exporter.getFinishedSpans(), 'wallet.test.v1.Probe/LookUp', SpanKind.SERVER);
    expect(clientSpan.parentSpanContext).toBeUndefined();
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
  });

  it('a failed call: status code attribute, error.type = reason, client ERROR, server not at fault for NOT_FOUND; no message', async () => {
    await expect(callUnary(client, client.fail, {}, { timeoutMs: 5000 })).rejects.toMatchObject({ code: status.NOT_FOUND });
    const spans = exporter.getFinishedSpans();
    const clientSpan = spanNamed(spans, 'wallet.test.v1.Probe/Fail', SpanKind.CLIENT);
    const serverSpan = spanNamed(spans, 'wallet.test.v1.Probe/Fail', SpanKind.SERVER);
    for (const span of [clientSpan, serverSpan]) {
      expect(span.attributes).toMatchObject({ 'rpc.grpc.status_code': status.NOT_FOUND, 'error.type': 'ACCOUNT_NOT_FOUND' });
      expect(span.status.message).toBeUndefined();
    }
    expect(clientSpan.status.code).toBe(SpanStatusCode.ERROR);
    expect(serverSpan.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('fills grpc_server_handling_seconds and grpc_client_handling_seconds by method and code', async () => {
    await callUnary(client, client.lookUp, {}, { timeoutMs: 5000 });
    await expect(callUnary(client, client.fail, {}, { timeoutMs: 5000 })).rejects.toBeTruthy();
    const ok = { grpc_service: 'wallet.test.v1.Probe', grpc_method: 'LookUp', grpc_code: 'OK' };
    const notFound = { grpc_service: 'wallet.test.v1.Probe', grpc_method: 'Fail', grpc_code: 'NOT_FOUND' };
    expect(await histogramCount(serverRegistry, 'grpc_server_handling_seconds', ok)).toBeGreaterThanOrEqual(1);
    expect(await histogramCount(serverRegistry, 'grpc_server_handling_seconds', notFound)).toBeGreaterThanOrEqual(1);
    expect(await histogramCount(clientRegistry, 'grpc_client_handling_seconds', ok)).toBeGreaterThanOrEqual(1);
    expect(await histogramCount(clientRegistry, 'grpc_client_handling_seconds', notFound)).toBeGreaterThanOrEqual(1);
    const text = await serverRegistry.metrics();
    for (const le of ['0.005', '0.1', '0.25', '0.5', '1', '2.5', '10']) expect(text).toContain(`le="${le}"`);
  });

  it('health checks are neither traced nor counted', async () => {
    // grpc.health.v1 probes come every few seconds from orchestrators: noise, not traffic.
    const { HealthClient } = await healthClient();
    const transport = await testClientTransport('bank-service', 'api-gateway');
    const health = createGrpcClient(HealthClient, `127.0.0.1:${server.port}`, transport, { registry: clientRegistry }) as unknown as Client & { check: Unary };
    try {
      await callUnary(health, health.check, { service: '' }, { timeoutMs: 5000 });
    } finally {
      health.close();
    }
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    expect(await serverRegistry.metrics()).not.toContain('grpc.health');
  });
});

async function healthClient() {
  const { service } = await import('grpc-health-check');
  return { HealthClient: makeGenericClientConstructor(service, 'Health') };
}
