import { status as GrpcStatus } from '@grpc/grpc-js';
import type { GetStatementResponse, StatementEntry } from '@wallet/contracts/bank';
import { parse } from 'csv-parse/sync';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerStream } from '../../src/clients/types.js';
import { ALICE, BOB, grpcError, problemOf, startTestGateway, UNKNOWN_ACCOUNT, type TestGateway } from '../support/gateway.js';

const FROM = new Date('2026-05-01T00:00:00.000Z');
const TO = new Date('2026-06-01T00:00:00.000Z');
const money = (amountMinor: bigint) => ({ amountMinor, currencyCode: 'USD' });

function entry(entryId: bigint, amountMinor: bigint, balanceAfterMinor: bigint, description = ''): StatementEntry {
  return {
    entryId,
    createdAt: new Date(FROM.getTime() + Number(entryId) * 60_000),
    entryType: amountMinor > 0n ? 'deposit' : 'transfer',
    amountMinor,
    balanceAfterMinor,
    referenceId: `b1a7c0de-0000-4000-8000-${entryId.toString().padStart(12, '0')}`,
    counterpartyAccountId: amountMinor > 0n ? '' : BOB,
    description,
  };
}

/** Opening 10.00; +5.00 (15.00), -2.50 "=HYPERLINK(…)" (12.50), +0.05 "Café, \"Le Mans\"" (12.55); in two chunks. */
function statementParts(): GetStatementResponse[] {
  return [
    { part: { $case: 'header', value: { accountId: ALICE, currency: 'USD', from: FROM, to: TO, openingBalance: money(1_000n) } } },
    { part: { $case: 'entries', value: { entries: [entry(1n, 500n, 1_500n), entry(2n, -250n, 1_250n, '=HYPERLINK("http://x")')] } } },
    { part: { $case: 'entries', value: { entries: [entry(3n, 5n, 1_255n, 'Café, "Le Mans"\nline 2')] } } },
    { part: { $case: 'footer', value: { closingBalance: money(1_255n), totalIn: money(505n), totalOut: money(250n), entryCount: 3n } } },
  ];
}

/** A fake bank stream: the parts, then (optionally) a failure; records cancel(). */
function fakeStream(parts: GetStatementResponse[], failure?: Error): ServerStream<GetStatementResponse> & { cancelled: boolean } {
  const stream = {
    cancelled: false,
    async *[Symbol.asyncIterator]() {
      for (const part of parts) yield part;
      if (failure) throw failure;
    },
    cancel: () => {
      stream.cancelled = true;
    },
  };
  return stream;
}

describe('GET /accounts/{accountId}/statement', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway({ config: { GATEWAY_STATEMENT_ENTRIES_MAX: 5_000 } });
    gw.clients.bank.getStatement.mockImplementation(() => fakeStream(statementParts()));
  });
  afterEach(async () => {
    await gw.close();
  });

  const url = (query: string) => `/accounts/${ALICE}/statement?from=${FROM.toISOString()}&to=${TO.toISOString()}${query}`;

  it('json: opening, entries with running balances, closing and totals as decimal strings (the bank is asked with the bounds)', async () => {
    const res = await gw.inject({ method: 'GET', url: url('') });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ accountId: ALICE, currency: 'USD', openingBalance: '10.00', closingBalance: '12.55', totalIn: '5.05', totalOut: '2.50', entryCount: 3 });
    expect(body.entries.map((e: { amount: string; balance: string }) => [e.amount, e.balance])).toEqual([
      ['5.00', '15.00'],
      ['-2.50', '12.50'],
      ['0.05', '12.55'],
    ]);
    expect(body.entries[1]).toMatchObject({ entryId: '2', type: 'transfer', counterpartyAccountId: BOB });
    expect(gw.clients.bank.getStatement).toHaveBeenCalledWith({ accountId: ALICE, from: FROM, to: TO, entriesMax: 5_000 }, expect.objectContaining({ authorization: expect.stringMatching(/^Bearer /) }));
  });

  it('json: a range without entries is still a complete document', async () => {
    const [header, , , footer] = statementParts();
    gw.clients.bank.getStatement.mockImplementation(() => fakeStream([header!, footer!]));
    const res = await gw.inject({ method: 'GET', url: url('&format=json') });
    expect(res.json()).toMatchObject({ entries: [], closingBalance: '12.55' });
  });

  it('csv: RFC 4180 (BOM, header row, CRLF, every field quoted) that parses back to the same amounts, opening and closing rows, formulas defused', async () => {
    const res = await gw.inject({ method: 'GET', url: url('&format=csv') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="statement-${ALICE}-2026-05-01-2026-06-01.csv"`);
    expect(res.body.startsWith('\uFEFF"created_at","type","amount","balance"')).toBe(true);
    expect(res.body.split('\r\n').at(-1)).toBe('');
    const rows = parse(res.body, { bom: true, columns: true, record_delimiter: '\r\n' }) as Array<Record<string, string>>;
    expect(rows.map((r) => [r.type, r.amount, r.balance])).toEqual([
      ['opening_balance', '', '10.00'],
      ['deposit', '5.00', '15.00'],
      ['transfer', '-2.50', '12.50'],
      ['deposit', '0.05', '12.55'],
      ['closing_balance', '', '12.55'],
    ]);
    expect(rows[2]!.description).toBe(`'=HYPERLINK("http://x")`);
    expect(rows[3]!.description).toBe('Café, "Le Mans"\nline 2');
    // Round trip: opening + the amounts = closing, exactly, in minor units.
    const minor = (s: string) => BigInt(s.replace('.', ''));
    const sum = rows.slice(1, -1).reduce((acc, r) => acc + minor(r.amount!), minor(rows[0]!.balance!));
    expect(sum).toBe(minor(rows.at(-1)!.balance!));
  });

  it('pdf: a PDF document holding the opening and closing balance', async () => {
    const res = await gw.inject({ method: 'GET', url: url('&format=pdf') });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    const bytes = res.rawPayload;
    expect(bytes.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(bytes.subarray(-6).toString('latin1')).toContain('%%EOF');
    expect(bytes.toString('latin1')).toContain('closing balance 12.55 USD');
  });

  it('pdf: many pages of entries', async () => {
    const [header, , , footer] = statementParts();
    const many = Array.from({ length: 300 }, (_, i) => entry(BigInt(i + 1), 1n, 1_000n + BigInt(i + 1)));
    gw.clients.bank.getStatement.mockImplementation(() => fakeStream([header!, { part: { $case: 'entries', value: { entries: many } } }, footer!]));
    const res = await gw.inject({ method: 'GET', url: url('&format=pdf') });
    expect(res.statusCode).toBe(200);
    expect((res.rawPayload.toString('latin1').match(/\/Type \/Page\b/g) ?? []).length).toBeGreaterThan(3);
  });

  it('422 statement-too-large when the bank refuses the range before streaming', async () => {
    gw.clients.bank.getStatement.mockImplementation(() =>
      fakeStream([], grpcError(GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT', 'too many', { entries_max: '5000' })),
    );
    const res = await gw.inject({ method: 'GET', url: url('&format=csv') });
    expect(res.statusCode).toBe(422);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:statement-too-large', code: 'STATEMENT_TOO_LARGE' });
  });

  it('404 for an account the caller may not read, before any byte', async () => {
    gw.clients.bank.getStatement.mockImplementation(() => fakeStream([], grpcError(GrpcStatus.NOT_FOUND, 'ACCOUNT_NOT_FOUND')));
    const res = await gw.inject({ method: 'GET', url: `/accounts/${UNKNOWN_ACCOUNT}/statement?from=${FROM.toISOString()}` });
    expect(res.statusCode).toBe(404);
  });

  it('422 for from not before to, and for a range over GATEWAY_STATEMENT_RANGE_DAYS_MAX; 400 without from or with an unknown format', async () => {
    const reversed = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/statement?from=${TO.toISOString()}&to=${FROM.toISOString()}` });
    expect(problemOf(reversed).type).toBe('urn:problem:wallet:invalid-time-range');
    const long = await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/statement?from=2020-01-01T00:00:00Z&to=2021-01-02T00:00:01Z` });
    expect(problemOf(long).type).toBe('urn:problem:wallet:time-range-too-long');
    expect((await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/statement` })).statusCode).toBe(400);
    expect((await gw.inject({ method: 'GET', url: url('&format=xlsx') })).statusCode).toBe(400);
    expect(gw.clients.bank.getStatement).not.toHaveBeenCalled();
  });

  it('a bank failure after the first byte cuts the response short (never a complete-looking document)', async () => {
    const [header, chunk] = statementParts();
    gw.clients.bank.getStatement.mockImplementation(() => fakeStream([header!, chunk!], grpcError(GrpcStatus.UNAVAILABLE, 'STORAGE_UNAVAILABLE')));
    const res = await gw.inject({ method: 'GET', url: url('') }).catch((error: unknown) => error);
    // inject reports the aborted stream as an error or a truncated body; either way not valid JSON.
    if (res instanceof Error) return;
    expect(() => JSON.parse((res as { body: string }).body)).toThrow();
  });
});
