// Spans and RED histograms for every gRPC call, on both sides. Only fixed
// attributes are recorded: never metadata values (authorization, credentials)
// nor request fields.
import {
  InterceptingCall,
  status as Status,
  type Interceptor,
  type Metadata,
  type ServerUnaryCall,
  type ServiceDefinition,
  type StatusObject,
  type UntypedServiceImplementation,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import type { Histogram, Registry } from 'prom-client';
import { redHistogram, secondsSince } from '../metrics.js';
import { extractTraceContext, injectTraceHeaders } from '../tracing/propagation.js';
import { getTracer } from '../tracing/spans.js';
import { grpcStatusName, parseGrpcError } from './errors.js';

type Labels = 'grpc_service' | 'grpc_method' | 'grpc_code';
const LABELS: readonly Labels[] = ['grpc_service', 'grpc_method', 'grpc_code'];

export function grpcServerHistogram(registry: Registry): Histogram<Labels> {
  return redHistogram(registry, 'grpc_server_handling_seconds', 'gRPC calls handled by this server, by method and status code.', LABELS);
}

export function grpcClientHistogram(registry: Registry): Histogram<Labels> {
  return redHistogram(registry, 'grpc_client_handling_seconds', 'gRPC calls made by this service, by method and status code.', LABELS);
}

/** "/wallet.bank.v1.BankService/TransferMoney" -> service and method. */
export function splitMethodPath(path: string): { service: string; method: string } {
  const [service = '', method = ''] = path.replace(/^\//, '').split('/');
  return { service, method };
}

// Semantic conventions: on the server only these codes are the server's fault.
const SERVER_FAULTS = new Set<number>([Status.UNKNOWN, Status.DEADLINE_EXCEEDED, Status.UNIMPLEMENTED, Status.INTERNAL, Status.UNAVAILABLE, Status.DATA_LOSS]);

/** Our reason (ErrorInfo) when the status carries one, else the code's name; never the message. */
function errorTypeOf(code: number, metadata: Metadata | undefined): string {
  if (!metadata) return grpcStatusName(code);
  return parseGrpcError({ code, details: '', message: '', metadata }).reason ?? grpcStatusName(code);
}

interface CallRecord {
  span: Span;
  startedNs: bigint;
  labels: { grpc_service: string; grpc_method: string };
  histogram: Histogram<Labels> | undefined;
  side: 'server' | 'client';
}

function finishCall(record: CallRecord, code: number, metadata?: Metadata): void {
  const { span } = record;
  span.setAttribute('rpc.grpc.status_code', code);
  if (code !== Status.OK) {
    span.setAttribute('error.type', errorTypeOf(code, metadata));
    if (record.side === 'client' || SERVER_FAULTS.has(code)) span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
  record.histogram?.observe({ ...record.labels, grpc_code: grpcStatusName(code) }, secondsSince(record.startedNs));
}

function rpcAttributes(service: string, method: string): Attributes {
  return { 'rpc.system': 'grpc', 'rpc.service': service, 'rpc.method': method };
}

type UnaryHandler = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => void;

/** Runs one unary handler in a SERVER span whose parent is the caller's traceparent (never an ambient context). */
function instrumentUnary(path: string, handler: UnaryHandler, histogram: Histogram<Labels> | undefined): UnaryHandler {
  const { service, method } = splitMethodPath(path);
  const labels = { grpc_service: service, grpc_method: method };
  return (call, callback) => {
    const parent = extractTraceContext(call.metadata.getMap(), ROOT_CONTEXT);
    const span = getTracer().startSpan(`${service}/${method}`, { kind: SpanKind.SERVER, attributes: rpcAttributes(service, method) }, parent);
    const record: CallRecord = { span, startedNs: process.hrtime.bigint(), labels, histogram, side: 'server' };
    let done = false;
    const finish = (code: number, metadata?: Metadata): void => {
      if (done) return;
      done = true;
      finishCall(record, code, metadata);
    };
    call.once('cancelled', () => finish(Status.CANCELLED));
    const reply: sendUnaryData<unknown> = (error, value, trailer, flags) => {
      finish(error ? (error.code ?? Status.UNKNOWN) : Status.OK, error?.metadata);
      callback(error, value, trailer, flags);
    };
    context.with(trace.setSpan(parent, span), () => {
      try {
        handler(call, reply);
      } catch (error) {
        finish(Status.UNKNOWN);
        throw error;
      }
    });
  };
}

/**
 * The implementation with every unary handler traced (and timed when a
 * histogram is given). Streaming handlers pass through: our APIs have none.
 */
export function instrumentServiceImplementation(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
  histogram: Histogram<Labels> | undefined,
): UntypedServiceImplementation {
  const instrumented: UntypedServiceImplementation = { ...implementation };
  for (const [name, method] of Object.entries(definition)) {
    const handler = implementation[name];
    if (typeof handler !== 'function' || method.requestStream || method.responseStream) continue;
    instrumented[name] = instrumentUnary(method.path, handler as UnaryHandler, histogram);
  }
  return instrumented;
}

/**
 * host and port of a target such as "bank:50051", "dns:///bank:50051" or "[::1]:50051";
 * a replica list ("ipv4:a:1,b:2") is named as a whole, without a port (the replica is
 * picked per call, below the interceptors).
 */
export function targetAddress(target: string): { address: string; port?: number } {
  // Only real schemes: "bank:50051" is a host and port, not the scheme "bank".
  const authority = target.replace(/^(dns|ipv4|ipv6|unix|wallet-[a-z]+):(\/\/[^/]*\/)?/i, '');
  if (authority.includes(',')) return { address: authority };
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(authority);
  return match ? { address: match[1]!, port: Number(match[2]) } : { address: authority };
}

const HEALTH_PATH_PREFIX = '/grpc.health.v1.';

interface ClientMethod {
  spanName: string;
  attributes: Attributes;
  labels: { grpc_service: string; grpc_method: string };
}

/** A CLIENT span per call, traceparent injected into the call's metadata, and the client RED histogram. */
export function clientTracingInterceptor(target: string, histogram: Histogram<Labels> | undefined): Interceptor {
  const server = targetAddress(target);
  const serverAttributes: Attributes = server.port === undefined ? { 'server.address': server.address } : { 'server.address': server.address, 'server.port': server.port };
  // Per method path, computed once: span name, attributes and labels (per call this was ~1 % of the
  // gateway's CPU per transfer, issue 14). Paths come from the client's own service definitions: bounded.
  const methods = new Map<string, ClientMethod>();
  const methodOf = (path: string): ClientMethod => {
    let known = methods.get(path);
    if (known === undefined) {
      const { service, method } = splitMethodPath(path);
      known = {
        spanName: `${service}/${method}`,
        attributes: { ...rpcAttributes(service, method), ...serverAttributes },
        labels: { grpc_service: service, grpc_method: method },
      };
      methods.set(path, known);
    }
    return known;
  };
  return (options, nextCall) => {
    // Readiness probes of health would be a root trace per probe: noise.
    if (options.method_definition.path.startsWith(HEALTH_PATH_PREFIX)) return new InterceptingCall(nextCall(options));
    const { spanName, attributes, labels } = methodOf(options.method_definition.path);
    const parent = context.active();
    const span = getTracer().startSpan(spanName, { kind: SpanKind.CLIENT, attributes }, parent);
    const record: CallRecord = { span, startedNs: process.hrtime.bigint(), labels, histogram, side: 'client' };
    return new InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        for (const [key, value] of Object.entries(injectTraceHeaders({}, trace.setSpan(parent, span)))) metadata.set(key, value);
        next(metadata, {
          onReceiveStatus: (status: StatusObject, nextStatus: (status: StatusObject) => void) => {
            finishCall(record, status.code, status.metadata);
            nextStatus(status);
          },
        });
      },
    });
  };
}
