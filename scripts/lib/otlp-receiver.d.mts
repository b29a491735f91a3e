// Types for scripts/lib/otlp-receiver.mjs.
export type SpanKindName = 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };
export type FlatAttributes = Record<string, AttributeValue>;
/** One exported span, flattened (hex ids; times in nanoseconds as decimal strings). */
export interface FlatSpan {
  traceId: string | null;
  spanId: string | null;
  parentSpanId: string | null;
  name: string;
  kind: SpanKindName;
  /** The resource's service.name. */
  service: string;
  scope: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  durationMs: number;
  attributes: FlatAttributes;
  events: { name: string; timeUnixNano: string; attributes: FlatAttributes }[];
  links: { traceId: string | null; spanId: string | null; attributes: FlatAttributes }[];
  status: { code: 'UNSET' | 'OK' | 'ERROR'; message?: string };
  resource: FlatAttributes;
}
export interface OtlpReceiverOptions {
  host?: string;
  port?: number;
  bodyBytesMax?: number;
  /** Memory mode (no dir): spans kept before the oldest are dropped. */
  spansMax?: number;
  /** File mode: JSON lines in <dir>/spans-<date>-<n>.jsonl. */
  dir?: string;
  fileBytesMax?: number;
  filesMax?: number;
  now?: () => Date;
  onSpans?: (spans: FlatSpan[]) => void;
}
export interface OtlpReceiver {
  /** Base URL (OTEL_EXPORTER_OTLP_ENDPOINT). */
  url: string;
  /** The traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). */
  tracesUrl: string;
  port: number;
  spans: FlatSpan[];
  readonly received: number;
  readonly rejected: number;
  readonly dropped: number;
  readonly file: string | null;
  clear(): void;
  env(protocol?: 'http/protobuf' | 'http/json'): { OTEL_EXPORTER_OTLP_ENDPOINT: string; OTEL_EXPORTER_OTLP_PROTOCOL: string };
  close(): Promise<void>;
}
export declare const BODY_BYTES_MAX: number;
export declare const MEMORY_SPANS_MAX: number;
export declare const FILE_BYTES_MAX: number;
export declare const FILES_MAX: number;
export declare function startOtlpReceiver(options?: OtlpReceiverOptions): Promise<OtlpReceiver>;
export declare function flattenExportRequest(request: unknown): FlatSpan[];
export declare function decodeExportRequest(body: Buffer, contentType: 'application/json' | 'application/x-protobuf'): FlatSpan[];
export declare function spanFiles(dir: string): Promise<string[]>;
export declare function readSpans(dir: string, options?: { filter?: (span: FlatSpan) => boolean; spansMax?: number }): Promise<FlatSpan[]>;
