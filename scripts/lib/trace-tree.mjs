// Pure helpers of `npm run trace` (issue 12): find the trace of a request id
// or trace id among flat spans (scripts/lib/otlp-receiver.mjs records) and
// print it as an indented tree: service, span name, kind, duration, status,
// key attributes; children ordered by start time; links shown under a span.

/** The attribute the HTTP SERVER span carries with the request's X-Request-Id (design file, "Changes"). */
export const REQUEST_ID_ATTRIBUTE = 'wallet.request_id';
/** The semantic-convention form of the same header, accepted too. */
export const REQUEST_ID_HEADER_ATTRIBUTE = 'http.request.header.x-request-id';

/** Attributes worth a glance in a tree line, in this order (never secrets: the spans do not hold any). */
export const KEY_ATTRIBUTES = [
  'http.request.method',
  'http.route',
  'http.response.status_code',
  'rpc.grpc.status_code',
  'db.system.name',
  'db.namespace',
  'messaging.destination.name',
  'messaging.destination.partition.id',
  'messaging.kafka.offset',
  'messaging.batch.message_count',
  'transfer.batch.size',
  'server.address',
  'server.port',
  'error.type',
  REQUEST_ID_ATTRIBUTE,
];

const TRACE_ID = /^[0-9a-f]{32}$/;

/** Does this span belong to the request with this id? */
export function carriesRequestId(span, requestId) {
  const a = span.attributes ?? {};
  if (a[REQUEST_ID_ATTRIBUTE] === requestId) return true;
  const header = a[REQUEST_ID_HEADER_ATTRIBUTE];
  return Array.isArray(header) ? header.includes(requestId) : header === requestId;
}

/**
 * The trace ids an id names: itself when it is a trace id present in the spans,
 * else those of the spans carrying it as request id (a retried request id may
 * name several).
 */
export function traceIdsFor(spans, id) {
  const wanted = id.trim().toLowerCase();
  if (TRACE_ID.test(wanted) && spans.some((s) => s.traceId === wanted)) return [wanted];
  const ids = [];
  for (const span of spans) if (carriesRequestId(span, id.trim()) && !ids.includes(span.traceId)) ids.push(span.traceId);
  return ids;
}

const startOf = (span) => BigInt(span.startTimeUnixNano ?? '0');
const byStart = (a, b) => (startOf(a) < startOf(b) ? -1 : startOf(a) > startOf(b) ? 1 : 0);

/**
 * The spans of one trace as a forest: roots are spans without a parent in the
 * set (a missing parent is shown as such), children ordered by start time.
 * Returns [{ span, children, orphan }].
 */
export function buildTree(spans) {
  const byId = new Map(spans.map((s) => [s.spanId, { span: s, children: [], orphan: false }]));
  const roots = [];
  for (const node of byId.values()) {
    const parent = node.span.parentSpanId ? byId.get(node.span.parentSpanId) : undefined;
    if (parent && parent !== node) parent.children.push(node);
    else {
      node.orphan = Boolean(node.span.parentSpanId);
      roots.push(node);
    }
  }
  const sort = (nodes) => {
    nodes.sort((a, b) => byStart(a.span, b.span));
    for (const n of nodes) sort(n.children);
  };
  sort(roots);
  return roots;
}

function formatValue(value) {
  if (Array.isArray(value)) return value.map(formatValue).join(',');
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** One tree line (without the indent). */
export function spanLine(span, { nameOf } = {}) {
  const a = span.attributes ?? {};
  const keys = KEY_ATTRIBUTES.filter((k) => a[k] !== undefined && a[k] !== null).map((k) => `${k}=${formatValue(a[k])}`);
  const status = span.status?.code === 'ERROR' ? `ERROR${span.status.message ? ` "${span.status.message}"` : ''}` : span.status?.code ?? 'UNSET';
  const duration = `${Number(span.durationMs ?? 0).toFixed(2)} ms`;
  const lines = [`[${span.service}] ${span.name} ${span.kind} ${duration} ${status}${keys.length ? `  ${keys.join(' ')}` : ''}`];
  for (const link of span.links ?? []) {
    const target = nameOf?.(link.spanId);
    lines.push(`  ↪ link ${link.traceId === span.traceId ? '' : `trace ${link.traceId} `}span ${link.spanId}${target ? ` (${target})` : ''}`);
  }
  return lines;
}

/** The whole trace as text lines: a header, then the indented tree; `known` spans name link targets in other traces. */
export function formatTrace(spans, { known = [] } = {}) {
  if (spans.length === 0) return [];
  const names = new Map([...known, ...spans].map((s) => [s.spanId, `[${s.service}] ${s.name}`]));
  const nameOf = (id) => names.get(id);
  const first = spans.reduce((min, s) => (startOf(s) < startOf(min) ? s : min));
  const lastEndNs = spans.reduce((max, s) => (BigInt(s.endTimeUnixNano ?? '0') > max ? BigInt(s.endTimeUnixNano) : max), 0n);
  const services = [...new Set(spans.map((s) => s.service))];
  const lines = [
    `trace ${first.traceId}: ${spans.length} span${spans.length === 1 ? '' : 's'}, ${services.length} service${services.length === 1 ? '' : 's'} (${services.join(', ')}), ${(Number(lastEndNs - startOf(first)) / 1e6).toFixed(2)} ms`,
  ];
  const walk = (node, depth) => {
    const indent = '  '.repeat(depth);
    const [head, ...links] = spanLine(node.span, { nameOf });
    lines.push(`${indent}${node.orphan ? '… ' : ''}${head}`);
    for (const link of links) lines.push(`${indent}${link}`);
    for (const child of node.children) walk(child, depth + 1);
  };
  for (const root of buildTree(spans)) walk(root, 0);
  return lines;
}
