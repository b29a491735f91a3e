// An in-process OTLP/HTTP trace receiver on loopback (issue 12): POST
// /v1/traces with application/x-protobuf (the SDK's default) or
// application/json, optionally gzip. Each exported span becomes one flat
// record (hex ids, attributes as a plain object, the resource's service.name)
// that is kept in memory (tests, the bench) or appended as a JSON line to
// <dir>/spans-<date>-<n>.jsonl, rotated at a size with a bounded number of
// files kept (`npm start -- --traces`, read by `npm run trace`).
// Everything is bounded: request body, decompressed body, spans in memory,
// file size and count. It is a development tool: it listens on loopback only.
import { appendFile, mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createServer } from 'node:http';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/** Largest accepted request body (compressed or not), and largest decompressed one. */
export const BODY_BYTES_MAX = 8 * 1024 * 1024;
/** Spans kept in memory before the oldest are dropped (counted in `dropped`). */
export const MEMORY_SPANS_MAX = 200_000;
/** A spans file is closed at this size and the next one started. */
export const FILE_BYTES_MAX = 16 * 1024 * 1024;
/** Spans files kept in the folder; the oldest beyond this are deleted. */
export const FILES_MAX = 8;

const PROTO_ROOT = fileURLToPath(new URL('./otlp-proto/', import.meta.url));
const KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];
const STATUS = ['UNSET', 'OK', 'ERROR'];

let requestType;
let responseType;
/** The OTLP collector trace messages, from the opentelemetry-proto v1.11.0 definitions kept in otlp-proto/. */
function otlpTypes() {
  if (!requestType) {
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
    root.loadSync('opentelemetry/proto/collector/trace/v1/trace_service.proto', { keepCase: false });
    requestType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    responseType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
  }
  return { requestType, responseType };
}

/** A trace or span id as lower-case hex: bytes (protobuf), hex (OTLP/JSON) or base64 (proto3 JSON mapping). */
function idHex(value, bytes) {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value === 'string') {
    if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(value)) return value.toLowerCase();
    value = Buffer.from(value, 'base64');
  }
  const hex = Buffer.from(value).toString('hex');
  return hex.length === 0 || /^0+$/.test(hex) ? null : hex;
}

/** An OTLP AnyValue as a plain JSON value (64-bit integers as numbers when safe, else strings). */
function anyValue(value) {
  if (!value || typeof value !== 'object') return null;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return Boolean(value.boolValue);
  if ('intValue' in value) {
    const text = String(value.intValue);
    return Number.isSafeInteger(Number(text)) ? Number(text) : text;
  }
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value) return (value.arrayValue?.values ?? []).map(anyValue);
  if ('kvlistValue' in value) return attributes(value.kvlistValue?.values);
  if ('bytesValue' in value) return Buffer.from(value.bytesValue ?? []).toString('base64');
  return null;
}

function attributes(list) {
  const out = {};
  for (const kv of list ?? []) if (kv?.key) out[kv.key] = anyValue(kv.value);
  return out;
}

const enumOf = (names, value) => (typeof value === 'string' ? value.replace(/^(SPAN_KIND_|STATUS_CODE_)/, '') : names[Number(value ?? 0)] ?? 'UNSPECIFIED');
const nanos = (value) => (value === undefined || value === null ? '0' : String(value));

/** One flat span record (what the tests, the bench and `npm run trace` read). */
function flatSpan(span, resource, scope) {
  const startNs = BigInt(nanos(span.startTimeUnixNano));
  const endNs = BigInt(nanos(span.endTimeUnixNano));
  return {
    traceId: idHex(span.traceId, 16),
    spanId: idHex(span.spanId, 8),
    parentSpanId: idHex(span.parentSpanId, 8),
    name: span.name ?? '',
    kind: enumOf(KINDS, span.kind),
    service: typeof resource['service.name'] === 'string' ? resource['service.name'] : 'unknown_service',
    scope: scope?.name ?? '',
    startTimeUnixNano: startNs.toString(),
    endTimeUnixNano: endNs.toString(),
    durationMs: Number(endNs - startNs) / 1e6,
    attributes: attributes(span.attributes),
    events: (span.events ?? []).map((e) => ({ name: e.name ?? '', timeUnixNano: nanos(e.timeUnixNano), attributes: attributes(e.attributes) })),
    links: (span.links ?? []).map((l) => ({ traceId: idHex(l.traceId, 16), spanId: idHex(l.spanId, 8), attributes: attributes(l.attributes) })),
    status: { code: enumOf(STATUS, span.status?.code), ...(span.status?.message ? { message: span.status.message } : {}) },
    resource,
  };
}

/** The flat spans of one ExportTraceServiceRequest (decoded protobuf object or parsed OTLP/JSON). */
export function flattenExportRequest(request) {
  const spans = [];
  for (const rs of request?.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) for (const span of ss.spans ?? []) spans.push(flatSpan(span, resource, ss.scope));
  }
  return spans;
}

/** Decodes an OTLP/HTTP body by content type; throws a message fit for a 400 answer. */
export function decodeExportRequest(body, contentType) {
  if (contentType === 'application/json') return flattenExportRequest(JSON.parse(body.toString('utf8')));
  const { requestType } = otlpTypes();
  const message = requestType.decode(body);
  // Longs as decimal strings (nanosecond times exceed 2^53); bytes stay buffers (ids -> hex).
  return flattenExportRequest(requestType.toObject(message, { longs: String, enums: Number, defaults: false }));
}

/** The body of a request, refused (413) beyond bytesMax; gunzipped within the same bound. */
function readBody(req, bytesMax) {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > bytesMax) return reject(Object.assign(new Error(`body larger than ${bytesMax} bytes`), { status: 413 }));
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > bytesMax) {
        req.destroy();
        reject(Object.assign(new Error(`body larger than ${bytesMax} bytes`), { status: 413 }));
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (String(req.headers['content-encoding'] ?? '').toLowerCase() !== 'gzip') return resolve(raw);
      try {
        resolve(gunzipSync(raw, { maxOutputLength: bytesMax }));
      } catch (error) {
        reject(Object.assign(new Error(`gzip body not readable within ${bytesMax} bytes: ${error.code ?? error.message}`), { status: error.code === 'ERR_BUFFER_TOO_LARGE' ? 413 : 400 }));
      }
    });
    req.on('error', reject);
  });
}

/** Where spans go: memory (bounded ring) or rotated JSON-lines files. */
function memorySink(spansMax) {
  const spans = [];
  let dropped = 0;
  return {
    spans,
    get dropped() {
      return dropped;
    },
    async write(batch) {
      spans.push(...batch);
      if (spans.length > spansMax) {
        dropped += spans.length - spansMax;
        spans.splice(0, spans.length - spansMax);
      }
    },
    clear() {
      spans.length = 0;
    },
  };
}

const FILE_NAME = /^spans-(\d{4}-\d{2}-\d{2})-(\d{4,})\.jsonl$/;

/** Spans files of a folder, oldest first (by date, then sequence). */
export async function spanFiles(dir) {
  const names = await readdir(dir).catch((error) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
  return names.filter((n) => FILE_NAME.test(n)).sort().map((n) => join(dir, n));
}

function fileSink({ dir, fileBytesMax, filesMax, now }) {
  let current = null;
  let currentBytes = 0;
  let chain = Promise.resolve();
  async function nextFile() {
    await mkdir(dir, { recursive: true });
    const date = now().toISOString().slice(0, 10);
    const existing = await spanFiles(dir);
    const last = basename(existing.at(-1) ?? '').match(FILE_NAME);
    const sequence = last && last[1] === date ? Number(last[2]) + 1 : 1;
    current = join(dir, `spans-${date}-${String(sequence).padStart(4, '0')}.jsonl`);
    currentBytes = 0;
    // Bounded disk use: the oldest files beyond filesMax (counting the new one) go.
    for (const old of existing.slice(0, Math.max(0, existing.length + 1 - filesMax))) await unlink(old).catch(() => {});
  }
  async function append(batch) {
    const text = batch.map((s) => `${JSON.stringify(s)}\n`).join('');
    const date = now().toISOString().slice(0, 10);
    if (!current || currentBytes >= fileBytesMax || !current.includes(`spans-${date}-`)) await nextFile();
    await appendFile(current, text);
    currentBytes += Buffer.byteLength(text);
  }
  return {
    spans: [],
    dropped: 0,
    write(batch) {
      chain = chain.then(() => append(batch));
      return chain;
    },
    clear() {},
    get file() {
      return current;
    },
  };
}

/**
 * Starts the receiver. Options: host (loopback only), port (0: any free), bodyBytesMax,
 * and either `dir` (+ fileBytesMax, filesMax) for files or nothing for memory (spansMax).
 */
export async function startOtlpReceiver(options = {}) {
  const { host = '127.0.0.1', port = 0, bodyBytesMax = BODY_BYTES_MAX, onSpans } = options;
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) throw new Error(`the OTLP receiver listens on loopback only, not ${host}`);
  const sink = options.dir
    ? fileSink({ dir: options.dir, fileBytesMax: options.fileBytesMax ?? FILE_BYTES_MAX, filesMax: options.filesMax ?? FILES_MAX, now: options.now ?? (() => new Date()) })
    : memorySink(options.spansMax ?? MEMORY_SPANS_MAX);
  otlpTypes();
  let received = 0;
  let rejected = 0;
  const server = createServer((req, res) => void handle(req, res));
  const answer = (res, status, type, body) => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  async function handle(req, res) {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/v1/traces') return answer(res, 404, 'application/json', JSON.stringify({ message: 'only /v1/traces is served' }));
    if (req.method !== 'POST') return answer(res, 405, 'application/json', JSON.stringify({ message: 'POST only' }));
    const contentType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (contentType !== 'application/json' && contentType !== 'application/x-protobuf') {
      rejected += 1;
      return answer(res, 415, 'application/json', JSON.stringify({ message: 'application/x-protobuf or application/json' }));
    }
    try {
      const spans = decodeExportRequest(await readBody(req, bodyBytesMax), contentType);
      await sink.write(spans);
      received += spans.length;
      onSpans?.(spans);
      if (contentType === 'application/json') return answer(res, 200, 'application/json', '{}');
      const { responseType } = otlpTypes();
      const body = Buffer.from(responseType.encode(responseType.create({})).finish());
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': body.length });
      return res.end(body);
    } catch (error) {
      rejected += 1;
      if (!res.headersSent && !res.destroyed) answer(res, error.status ?? 400, 'application/json', JSON.stringify({ message: String(error.message).slice(0, 200) }));
    }
  }
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = server.address().port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    port: bound,
    /** Spans kept in memory (memory mode; [] with files). */
    spans: sink.spans,
    get received() {
      return received;
    },
    get rejected() {
      return rejected;
    },
    get dropped() {
      return sink.dropped;
    },
    get file() {
      return sink.file ?? null;
    },
    clear: () => sink.clear(),
    /** The OTEL_* variables that send a process's spans here. */
    env: (protocol = 'http/protobuf') => ({ OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_EXPORTER_OTLP_PROTOCOL: protocol }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}

/** Every span in the spans files of `dir`, oldest file first; `filter` keeps some (bounded by spansMax). */
export async function readSpans(dir, { filter = () => true, spansMax = 1_000_000 } = {}) {
  const spans = [];
  for (const file of await spanFiles(dir)) {
    if ((await stat(file)).size === 0) continue;
    const input = createReadStream(file, 'utf8');
    const lines = createInterface({ input, crlfDelay: Infinity });
    for await (const line of lines) {
      if (!line.trim()) continue;
      let span;
      try {
        span = JSON.parse(line);
      } catch {
        continue; // a line cut by a crash mid-write
      }
      if (filter(span)) spans.push(span);
      if (spans.length >= spansMax) {
        input.destroy();
        return spans;
      }
    }
  }
  return spans;
}
