// No span attribute, event, link or status may hold a secret, a SQL parameter
// value, a query string, a header value or a raw error message.
import Fastify from 'fastify';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { instrumentClient, summarizeQuery } from '@wallet/platform/db';
import { httpServerObservability } from '@wallet/platform/http';
import { InMemorySpanExporter, recordSpanError, startTracing, withSpan, type ReadableSpan, type TracingHandle } from '@wallet/platform/tracing';

const CARD = '4111111111111111';
const TOKEN = 'eyJhbGciOiJFUzI1NiJ9.secret-token';
let handle: TracingHandle | undefined;

afterEach(async () => {
  await handle?.shutdown();
  handle = undefined;
});

function startInMemory(env: NodeJS.ProcessEnv = {}): InMemorySpanExporter {
  const exporter = new InMemorySpanExporter();
  handle = startTracing('redaction-test', env, { exporter, simpleProcessor: true });
  return exporter;
}

/** Everything a span would export, as one string to search. */
function exported(spans: ReadableSpan[]): string {
  return JSON.stringify(spans.map((span) => ({ name: span.name, attributes: span.attributes, events: span.events, links: span.links, status: span.status })));
}

describe('SQL summaries', () => {
  it.each([
    [`SELECT number FROM bank.cards WHERE number = '${CARD}'`, 'SELECT bank.cards'],
    ['insert into bank.outbox (id, payload) values ($1, $2)', 'INSERT bank.outbox'],
    [`/* ${CARD} */ -- note\n UPDATE ONLY "bank"."accounts" SET balance = 1`, 'UPDATE bank.accounts'],
    ['DELETE FROM bank.idempotency_keys WHERE created_at < $1', 'DELETE bank.idempotency_keys'],
    ['SELECT * FROM unnest($1::text[]) AS t(id)', 'SELECT'],
    ['SELECT pg_advisory_xact_lock(1234567)', 'SELECT'],
    ['BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(42)', 'BEGIN'],
    [`WITH moved AS (UPDATE bank.accounts SET x = '${CARD}') SELECT 1`, 'WITH'],
    ['', 'QUERY'],
  ])('%s -> %s', (sql, name) => {
    expect(summarizeQuery(sql).name).toBe(name);
  });
});

/** A stand-in for a pooled pg client: records nothing, answers or fails like pg. */
function fakeClient(outcome: 'ok' | 'fail'): pg.PoolClient {
  const failure = Object.assign(new Error(`duplicate key value (number)=(${CARD})`), { code: '23505' });
  const query = (_config: unknown, _values?: unknown) => (outcome === 'ok' ? Promise.resolve({ rows: [] }) : Promise.reject(failure));
  return { query, database: 'wallet', host: 'db', port: 5432 } as unknown as pg.PoolClient;
}

describe('PostgreSQL spans', () => {
  it('hold neither parameter values nor literals nor the driver message', async () => {
    const exporter = startInMemory();
    const ok = fakeClient('ok');
    instrumentClient(ok);
    await ok.query({ text: `SELECT 1 FROM bank.cards WHERE number = '${CARD}' AND token = $1`, values: [TOKEN] });
    const failing = fakeClient('fail');
    instrumentClient(failing);
    await expect(failing.query('INSERT INTO bank.cards (number) VALUES ($1)', [CARD])).rejects.toThrow();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(['SELECT bank.cards', 'INSERT bank.cards']);
    expect(spans[1]?.attributes['error.type']).toBe('23505');
    expect(exported(spans)).not.toContain(CARD);
    expect(exported(spans)).not.toContain(TOKEN);
  });
});

describe('error recording', () => {
  it('withSpan records the class, never the message; recordSpanError takes only our own message', async () => {
    const exporter = startInMemory();
    await expect(withSpan('charge', {}, () => Promise.reject(new TypeError(`bad card ${CARD}`)))).rejects.toThrow();
    await withSpan('ours', {}, (span) => recordSpanError(span, new Error(`token ${TOKEN}`), 'payment gateway refused'));
    const spans = exporter.getFinishedSpans();
    expect(spans[0]?.attributes['error.type']).toBe('TypeError');
    expect(spans[1]?.status.message).toBe('payment gateway refused');
    expect(exported(spans)).not.toContain(CARD);
    expect(exported(spans)).not.toContain(TOKEN);
  });

  it('attribute values are cut to OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (default 1024)', async () => {
    const exporter = startInMemory();
    await withSpan('long', { attributes: { note: 'x'.repeat(5000) } }, () => undefined);
    expect(String(exporter.getFinishedSpans()[0]?.attributes.note)).toHaveLength(1024);
  });
});

describe('HTTP spans', () => {
  it('hold no query string, header value, cookie or body', async () => {
    const exporter = startInMemory();
    const app = Fastify();
    httpServerObservability(app, { edge: true });
    app.post('/v1/top-ups', async () => ({ ok: true }));
    await app.inject({
      method: 'POST',
      url: `/v1/top-ups?card=${CARD}&access_token=${TOKEN}`,
      headers: { authorization: `Bearer ${TOKEN}`, cookie: `session=${TOKEN}`, 'x-api-key': TOKEN },
      payload: { card: { number: CARD, cvc: '123' } },
    });
    await app.close();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((span) => span.name)).toEqual(['POST /v1/top-ups']);
    expect(exported(spans)).not.toContain(CARD);
    expect(exported(spans)).not.toContain(TOKEN);
  });
});
