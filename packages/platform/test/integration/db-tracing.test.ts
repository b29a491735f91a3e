// PostgreSQL spans against the real test PostgreSQL (npm test starts it).
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@wallet/platform';
import { createPool, withTransaction } from '@wallet/platform/db';
import { InMemorySpanExporter, SpanKind, SpanStatusCode, startTracing, withSpan, type ReadableSpan, type TracingHandle } from '@wallet/platform/tracing';
import { createTestDatabase, dropTestDatabase, type TestDatabase } from '@wallet/testkit';

const exporter = new InMemorySpanExporter();
let tracing: TracingHandle;
let db: TestDatabase;
let pool: pg.Pool;

function newPool(connectionsMax: number): pg.Pool {
  return createPool(
    {
      connectionString: db.url,
      connectionsMax,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 5000,
      idleInTransactionTimeoutMs: 5000,
      applicationName: 'platform-db-tracing-test',
    },
    createLogger('db-tracing-test', 'silent'),
  );
}

beforeAll(async () => {
  tracing = startTracing('db-tracing-test', {}, { exporter, simpleProcessor: true });
  db = await createTestDatabase('platform_tracing');
  pool = newPool(4);
  await pool.query('CREATE SCHEMA shop; CREATE TABLE shop.cards (id int PRIMARY KEY, number text NOT NULL)');
  exporter.reset();
});

afterEach(() => exporter.reset());

afterAll(async () => {
  await pool?.end();
  await dropTestDatabase(db);
  await tracing?.shutdown();
});

const SECRET_NUMBER = '4111111111111111';

function queries(spans: ReadableSpan[]): ReadableSpan[] {
  return spans.filter((span) => span.kind === SpanKind.CLIENT && span.attributes['db.system.name'] === 'postgresql');
}

describe('PostgreSQL spans', () => {
  it('pool.query: one CLIENT span "<OP> <table>" with db.* attributes and no parameter values', async () => {
    await withSpan('caller', {}, () => pool.query('INSERT INTO shop.cards (id, number) VALUES ($1, $2)', [1, SECRET_NUMBER]));
    const spans = exporter.getFinishedSpans();
    const [insert] = queries(spans);
    expect(queries(spans)).toHaveLength(1);
    expect(insert?.name).toBe('INSERT shop.cards');
    expect(insert?.attributes).toMatchObject({
      'db.system.name': 'postgresql',
      'db.operation.name': 'INSERT',
      'db.collection.name': 'shop.cards',
      'db.namespace': db.name,
      'db.query.summary': 'INSERT shop.cards',
    });
    expect(insert?.parentSpanContext?.spanId).toBe(spans.find((span) => span.name === 'caller')?.spanContext().spanId);
    expect(JSON.stringify(spans.map((span) => [span.attributes, span.events]))).not.toContain(SECRET_NUMBER);
  });

  it('withTransaction: a db.transaction span whose children are BEGIN, the statements and COMMIT, each once', async () => {
    await withTransaction(pool, 'BEGIN', (client) => client.query('SELECT number FROM shop.cards WHERE id = $1', [1]));
    const spans = exporter.getFinishedSpans();
    const transaction = spans.find((span) => span.name === 'db.transaction');
    expect(transaction?.kind).toBe(SpanKind.INTERNAL);
    const children = queries(spans);
    expect(children.map((span) => span.name)).toEqual(['BEGIN', 'SELECT shop.cards', 'COMMIT']);
    for (const child of children) expect(child.parentSpanContext?.spanId).toBe(transaction?.spanContext().spanId);
  });

  it('a failed statement: error.type and db.response.status_code = SQLSTATE, no message; the transaction span fails too', async () => {
    const duplicate = withTransaction(pool, 'BEGIN', (client) => client.query('INSERT INTO shop.cards (id, number) VALUES ($1, $2)', [1, SECRET_NUMBER]));
    await expect(duplicate).rejects.toMatchObject({ code: '23505' });
    const spans = exporter.getFinishedSpans();
    const insert = spans.find((span) => span.name === 'INSERT shop.cards');
    expect(insert?.attributes).toMatchObject({ 'error.type': '23505', 'db.response.status_code': '23505' });
    expect(insert?.status).toEqual({ code: SpanStatusCode.ERROR });
    expect(spans.find((span) => span.name === 'ROLLBACK')).toBeDefined();
    expect(spans.find((span) => span.name === 'db.transaction')?.attributes['error.type']).toBe('23505');
    expect(JSON.stringify(spans.map((span) => [span.attributes, span.events, span.status]))).not.toContain(SECRET_NUMBER);
  });

  it('pool.query waiting for a busy pool joins its own trace, not the trace of whoever frees the connection', async () => {
    const single = newPool(1);
    try {
      const held = await single.connect();
      const waiting = withSpan('waiter', {}, () => single.query('SELECT 1 AS one'));
      await withSpan('releaser', {}, async () => {
        await held.query('SELECT 2 AS two');
        held.release();
      });
      await waiting;
      const spans = exporter.getFinishedSpans();
      const waiter = spans.find((span) => span.name === 'waiter');
      const query = queries(spans).find((span) => span.spanContext().traceId === waiter?.spanContext().traceId);
      expect(query?.parentSpanContext?.spanId).toBe(waiter?.spanContext().spanId);
      const releaser = spans.find((span) => span.name === 'releaser');
      expect(queries(spans).filter((span) => span.spanContext().traceId === releaser?.spanContext().traceId)).toHaveLength(1);
    } finally {
      await single.end();
    }
  });
});
