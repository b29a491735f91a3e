// Spans of ClickHouse calls (OpenTelemetry database semantic conventions).
// Only the table, the operation and counts go into attributes: never the SQL
// parameters (account ids, amounts, times) nor row values.
import { SpanKind, withSpan, type Attributes, type Span } from '@wallet/platform/tracing';

/** Which table a span is about; `server` only for a ClickHouse server (chDB runs in-process). */
export interface StoreTarget {
  /** The database, e.g. `wallet_analytics`. */
  namespace: string;
  /** The qualified table, e.g. `wallet_analytics.operations`. */
  collection: string;
  server?: { address: string; port: number };
}

export type StoreOperation = 'SELECT' | 'INSERT';

/** Attributes every store span carries. */
export function storeSpanAttributes(target: StoreTarget, operation: StoreOperation): Attributes {
  return {
    'db.system.name': 'clickhouse',
    'db.operation.name': operation,
    'db.collection.name': target.collection,
    'db.namespace': target.namespace,
    'db.query.summary': `${operation} ${target.collection}`,
    ...(target.server ? { 'server.address': target.server.address, 'server.port': target.server.port } : {}),
  };
}

/**
 * Runs one store call in a CLIENT span `<OPERATION> <table>` (child of the
 * active span: the gRPC handler's or the consumer's flush). `query` names which
 * of our queries it is (a fixed word, not SQL).
 */
export function withStoreSpan<T>(target: StoreTarget, operation: StoreOperation, query: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return withSpan(
    `${operation} ${target.collection}`,
    { kind: SpanKind.CLIENT, attributes: { ...storeSpanAttributes(target, operation), 'analytics.store.query': query } },
    fn,
  );
}
