// A CLIENT span per PostgreSQL statement. Instrumented at the client (every
// pooled connection), so pool.query and transaction clients are covered once
// each. Recorded: operation, table, database, server; never the SQL parameter
// values (nor the full text: literals such as lock keys live there).
import { context, SpanKind, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import type pg from 'pg';
import { errorType, getTracer } from '../tracing/spans.js';

export interface QuerySummary {
  /** Span name: "SELECT bank.accounts", "COMMIT". */
  name: string;
  operation: string;
  table: string | undefined;
}

// The whole (schema-qualified) name: no backtracking to a shorter prefix.
const IDENT = String.raw`("?[A-Za-z_][\w$]*"?(?:\."?[A-Za-z_][\w$]*"?)?)(?![\w$".])`;
const TABLE_PATTERNS: Record<string, RegExp> = {
  // FROM unnest(...) / generate_series(...) is a function, not a table.
  SELECT: new RegExp(String.raw`\bfrom\s+(?:only\s+)?${IDENT}(?!\s*\()`, 'i'),
  DELETE: new RegExp(String.raw`^delete\s+from\s+(?:only\s+)?${IDENT}`, 'i'),
  INSERT: new RegExp(String.raw`^insert\s+into\s+${IDENT}`, 'i'),
  UPDATE: new RegExp(String.raw`^update\s+(?:only\s+)?${IDENT}`, 'i'),
  MERGE: new RegExp(String.raw`^merge\s+into\s+${IDENT}`, 'i'),
  COPY: new RegExp(String.raw`^copy\s+${IDENT}`, 'i'),
  TRUNCATE: new RegExp(String.raw`^truncate\s+(?:table\s+)?(?:only\s+)?${IDENT}`, 'i'),
};
const LEADING_NOISE = /^(?:\s+|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*/;
// Statements are mostly constant strings: remember their summaries, boundedly.
const SUMMARY_CACHE_MAX = 1000;
const SUMMARY_TEXT_MAX = 4096;
const cache = new Map<string, QuerySummary>();

function parse(text: string): QuerySummary {
  const body = text.slice(0, SUMMARY_TEXT_MAX).replace(LEADING_NOISE, '');
  const operation = /^[a-z]+/i.exec(body)?.[0].toUpperCase() ?? 'QUERY';
  const table = TABLE_PATTERNS[operation]?.exec(body)?.[1]?.replaceAll('"', '');
  return { name: table ? `${operation} ${table}` : operation, operation, table };
}

/** Operation and table of a statement, for the span name and db.query.summary. */
export function summarizeQuery(text: string): QuerySummary {
  let summary = cache.get(text);
  if (summary) return summary;
  summary = parse(text);
  if (cache.size >= SUMMARY_CACHE_MAX) cache.clear();
  cache.set(text, summary);
  return summary;
}

function endQuerySpan(span: Span, error?: unknown): void {
  if (error !== undefined && error !== null) {
    const code = (error as { code?: unknown }).code;
    // SQLSTATE (23505...) says what failed; the message may echo input values.
    if (typeof code === 'string') span.setAttribute('db.response.status_code', code);
    span.setAttribute('error.type', errorType(error));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

function connectionAttributes(client: pg.PoolClient): Attributes {
  const { database, host, port } = client as unknown as pg.Client;
  const attributes: Attributes = { 'db.system.name': 'postgresql' };
  if (database) attributes['db.namespace'] = database;
  if (host) attributes['server.address'] = host;
  if (port) attributes['server.port'] = port;
  return attributes;
}

type AnyQuery = (...args: unknown[]) => unknown;

function startQuerySpan(base: Attributes, config: unknown): Span {
  const text = typeof config === 'string' ? config : ((config as { text?: unknown } | null)?.text ?? '');
  const summary = summarizeQuery(typeof text === 'string' ? text : '');
  const attributes: Attributes = { ...base, 'db.operation.name': summary.operation, 'db.query.summary': summary.name };
  if (summary.table) attributes['db.collection.name'] = summary.table;
  return getTracer().startSpan(summary.name, { kind: SpanKind.CLIENT, attributes }, context.active());
}

/** Wraps client.query (callback and promise forms); streams/cursors (Submittables) pass through. */
export function instrumentClient(client: pg.PoolClient): void {
  const original = client.query.bind(client) as AnyQuery;
  const base = connectionAttributes(client);
  const traced: AnyQuery = (...args) => {
    const [config] = args;
    if (typeof (config as { submit?: unknown } | null)?.submit === 'function') return original(...args);
    const span = startQuerySpan(base, config);
    const callbackAt = args.findIndex((arg) => typeof arg === 'function');
    if (callbackAt >= 0) {
      const callback = args[callbackAt] as (error: unknown, result: unknown) => void;
      args[callbackAt] = (error: unknown, result: unknown) => {
        endQuerySpan(span, error);
        callback(error, result);
      };
      return original(...args);
    }
    try {
      return (original(...args) as Promise<unknown>).then(
        (result) => (endQuerySpan(span), result),
        (error: unknown) => {
          endQuerySpan(span, error);
          throw error;
        },
      );
    } catch (error) {
      endQuerySpan(span, error);
      throw error;
    }
  };
  client.query = traced as typeof client.query;
}

/**
 * Every pooled connection traced, and pool.connect's callback run in its
 * caller's context: pg-pool hands a freed client to a waiting caller from
 * inside the releaser's call stack, which would otherwise parent pool.query's
 * span to someone else's trace.
 */
export function instrumentPool(pool: pg.Pool): void {
  pool.on('connect', (client) => instrumentClient(client));
  const connect = pool.connect.bind(pool) as (...args: unknown[]) => unknown;
  pool.connect = ((...args: unknown[]) => {
    const callback = args[0];
    if (typeof callback !== 'function') return connect(...args);
    return connect(context.bind(context.active(), callback as AnyQuery));
  }) as typeof pool.connect;
}
