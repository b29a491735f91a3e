import { status as GrpcStatus } from '@grpc/grpc-js';
import { OperationType, SummaryGranularity } from '@wallet/contracts/analytics';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, ALICE_USER, BOB, CREATED_AT, grpcError, operation, problemOf, startTestGateway, transportError, UNKNOWN_ACCOUNT, type TestGateway } from '../support/gateway.js';

describe('GET /accounts/{accountId}/operations', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });
  const get = (query = '', account = ALICE) => gw.inject({ method: 'GET', url: `/accounts/${account}/operations${query}` });

  it('200 with a page of operations; defaults limit to 20; nextCursor null on the last page', async () => {
    const res = await get();
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      items: [
        {
          id: 'e0e0c0de-0000-4000-8000-000000000003',
          type: 'transfer_out',
          amount: '10.50',
          currency: 'USD',
          counterpartyAccountId: BOB,
          transferId: 'b1a7c0de-0000-4000-8000-000000000001',
          description: 'Dinner',
          initiatedBy: ALICE_USER,
          createdAt: CREATED_AT.toISOString(),
        },
      ],
      nextCursor: null,
    });
    expect(gw.clients.analytics.getOperations).toHaveBeenCalledWith(
      { accountId: ALICE, pageSize: 20, pageToken: '', types: [], fromTime: undefined, toTime: undefined },
      { requestId: res.headers['x-request-id'] },
    );
    // Existence and read access are checked with the bank, in parallel, with the caller's token; analytics never sees it.
    expect(gw.clients.bank.getBalance).toHaveBeenCalledWith(
      { accountId: ALICE },
      { requestId: res.headers['x-request-id'], authorization: expect.stringMatching(/^Bearer ey/) },
    );
  });

  it('shows holds, reversals and refunds with their links, and filters by their types', async () => {
    const holdId = '401dc0de-0000-4000-8000-000000000001';
    const reversalId = '7e7ec0de-0000-4000-8000-000000000002';
    const refundId = '7ef0c0de-0000-4000-8000-000000000003';
    const topUpId = '70b0c0de-0000-4000-8000-000000000002';
    const originalTransferId = 'b1a7c0de-0000-4000-8000-000000000001';
    gw.clients.analytics.getOperations.mockResolvedValueOnce({
      operations: [
        operation({ id: 'e0e0c0de-0000-4000-8000-000000000011', type: OperationType.OPERATION_TYPE_REFUND, counterpartyAccountId: '', transferId: '', description: '', refundId, topUpId }),
        operation({ id: 'e0e0c0de-0000-4000-8000-000000000012', type: OperationType.OPERATION_TYPE_REVERSAL_IN, transferId: '', description: 'duplicate', reversalId, originalTransferId, forced: true }),
        operation({ id: 'e0e0c0de-0000-4000-8000-000000000013', type: OperationType.OPERATION_TYPE_HOLD_CAPTURED, holdId, holdDirection: 'out' }),
      ],
      nextPageToken: '',
    });
    const res = await get('?type=hold_captured');
    expect(res.statusCode).toBe(200);
    const common = { amount: '10.50', currency: 'USD', initiatedBy: ALICE_USER, createdAt: CREATED_AT.toISOString() };
    expect(res.json().items).toEqual([
      { ...common, id: 'e0e0c0de-0000-4000-8000-000000000011', type: 'refund', refundId, topUpId },
      { ...common, id: 'e0e0c0de-0000-4000-8000-000000000012', type: 'reversal_in', counterpartyAccountId: BOB, description: 'duplicate', reversalId, originalTransferId, forced: true },
      { ...common, id: 'e0e0c0de-0000-4000-8000-000000000013', type: 'hold_captured', counterpartyAccountId: BOB, transferId: originalTransferId, description: 'Dinner', holdId, direction: 'out' },
    ]);
    expect(gw.clients.analytics.getOperations.mock.calls[0]![0].types).toEqual([OperationType.OPERATION_TYPE_HOLD_CAPTURED]);
  });

  it('passes limit, cursor, type and time range through, and returns the next cursor', async () => {
    gw.clients.analytics.getOperations.mockResolvedValueOnce({
      operations: [
        operation({
          id: 'e0e0c0de-0000-4000-8000-000000000004',
          type: OperationType.OPERATION_TYPE_TOPUP,
          counterpartyAccountId: '',
          transferId: '',
          description: '',
          topUpId: '70b0c0de-0000-4000-8000-000000000002',
          cardLast4: '4242',
          amount: { amountMinor: 2500n, currencyCode: 'USD' },
        }),
      ],
      nextPageToken: 'opaque-cursor-2',
    });
    const res = await get('?limit=1&cursor=opaque-cursor-1&type=topup&from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00%2B01:00');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      items: [
        {
          id: 'e0e0c0de-0000-4000-8000-000000000004',
          type: 'topup',
          amount: '25.00',
          currency: 'USD',
          topUpId: '70b0c0de-0000-4000-8000-000000000002',
          cardLast4: '4242',
          initiatedBy: ALICE_USER,
          createdAt: CREATED_AT.toISOString(),
        },
      ],
      nextCursor: 'opaque-cursor-2',
    });
    expect(gw.clients.analytics.getOperations.mock.calls[0]![0]).toEqual({
      accountId: ALICE,
      pageSize: 1,
      pageToken: 'opaque-cursor-1',
      types: [OperationType.OPERATION_TYPE_TOPUP],
      fromTime: new Date('2025-01-01T00:00:00Z'),
      toTime: new Date('2025-01-31T23:00:00Z'),
    });
  });

  it.each([
    ['limit 0', '?limit=0', 'query.limit'],
    ['limit 101', '?limit=101', 'query.limit'],
    ['limit not a number', '?limit=ten', 'query.limit'],
    ['limit not an integer', '?limit=1.5', 'query.limit'],
    ['unknown type', '?type=chargeback', 'query.type'],
    ['two types', '?type=topup&type=transfer_in', 'query.type'],
    ['from not a date-time', '?from=yesterday', 'query.from'],
    ['date without time zone', '?to=2025-01-01T00:00:00', 'query.to'],
    ['empty cursor', '?cursor=', 'query.cursor'],
    ['cursor over 512 characters', `?cursor=${'c'.repeat(513)}`, 'query.cursor'],
    ['cursor that is not base64url', '?cursor=%0C6', 'query.cursor'],
  ])('400 for %s', async (_name, query, field) => {
    const res = await get(query);
    expect(res.statusCode).toBe(400);
    expect((problemOf(res).errors as { field: string }[]).map((e) => e.field)).toContain(field);
    expect(gw.clients.analytics.getOperations).not.toHaveBeenCalled();
  });

  it.each([
    ['from after to', '?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z'],
    ['from equal to to', '?from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z'],
    ['the same instant in two offsets', '?from=2025-01-01T01:00:00%2B01:00&to=2025-01-01T00:00:00Z'],
  ])('422 invalid-time-range for %s (a schema-valid request: not a 400)', async (_name, query) => {
    const res = await get(query);
    expect(res.statusCode).toBe(422);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:invalid-time-range', errors: [{ field: 'query.to' }] });
    expect(gw.clients.analytics.getOperations).not.toHaveBeenCalled();
  });

  it('clamps bounds outside what analytics stores instead of passing them on', async () => {
    gw.clients.analytics.getOperations.mockResolvedValueOnce({ operations: [], nextPageToken: '' });
    expect((await get('?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z')).statusCode).toBe(200);
    expect(gw.clients.analytics.getOperations).toHaveBeenCalledWith(
      expect.objectContaining({ fromTime: new Date('1970-01-01T00:00:00Z'), toTime: new Date('2200-01-01T00:00:00Z') }),
      expect.anything(),
    );
  });

  it('answers an empty page without asking analytics for a range it cannot hold anything in', async () => {
    const res = await get('?from=1900-01-01T00:00:00Z&to=1901-01-01T00:00:00Z');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ items: [], nextCursor: null });
    expect(gw.clients.analytics.getOperations).not.toHaveBeenCalled();
  });

  it('accepts a leap second (23:59:60), which Date cannot parse', async () => {
    gw.clients.analytics.getOperations.mockResolvedValueOnce({ operations: [], nextPageToken: '' });
    expect((await get('?to=2016-12-31T23:59:60Z')).statusCode).toBe(200);
    expect(gw.clients.analytics.getOperations).toHaveBeenCalledWith(
      expect.objectContaining({ toTime: new Date('2017-01-01T00:00:00Z') }),
      expect.anything(),
    );
  });

  it('422 for a well-formed cursor analytics rejects', async () => {
    gw.clients.analytics.getOperations.mockRejectedValueOnce(grpcError(GrpcStatus.INVALID_ARGUMENT, 'INVALID_CURSOR', 'malformed page token'));
    const res = await get('?cursor=forged');
    expect(res.statusCode).toBe(422);
    expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:invalid-cursor', code: 'INVALID_CURSOR' });
  });

  it('404 for an unknown account, even though analytics answers an empty page', async () => {
    gw.clients.analytics.getOperations.mockResolvedValueOnce({ operations: [], nextPageToken: '' });
    const res = await get('', UNKNOWN_ACCOUNT);
    expect(res.statusCode).toBe(404);
    expect(problemOf(res).type).toBe('urn:problem:wallet:account-not-found');
  });

  it('404 wins over an analytics outage for an unknown account', async () => {
    gw.clients.analytics.getOperations.mockRejectedValueOnce(transportError(GrpcStatus.UNAVAILABLE, 'down'));
    expect((await get('', UNKNOWN_ACCOUNT)).statusCode).toBe(404);
  });

  it('503 with Retry-After when analytics is down, while balances keep working', async () => {
    gw.clients.analytics.getOperations.mockRejectedValue(transportError(GrpcStatus.UNAVAILABLE, 'No connection established'));
    const res = await get();
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(problemOf(res).type).toBe('urn:problem:wallet:service-unavailable');
    expect((await gw.inject({ method: 'GET', url: `/accounts/${ALICE}/balance` })).statusCode).toBe(200);
  });

  it('503 when the analytics store is unavailable', async () => {
    gw.clients.analytics.getOperations.mockRejectedValueOnce(grpcError(GrpcStatus.UNAVAILABLE, 'STORE_UNAVAILABLE'));
    const res = await get();
    expect(res.statusCode).toBe(503);
    expect(problemOf(res).code).toBe('STORE_UNAVAILABLE');
  });

  it('504 when analytics misses the deadline', async () => {
    gw.clients.analytics.getOperations.mockRejectedValueOnce(transportError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'));
    expect((await get()).statusCode).toBe(504);
  });

  it('the bank failing the existence check is reported when analytics answered', async () => {
    gw.clients.bank.getBalance.mockRejectedValueOnce(transportError(GrpcStatus.UNAVAILABLE, 'bank down'));
    const res = await get();
    expect(res.statusCode).toBe(503);
  });

  it('500 when analytics returns an operation of an unknown type', async () => {
    gw.clients.analytics.getOperations.mockResolvedValueOnce({
      operations: [operation({ type: OperationType.OPERATION_TYPE_UNSPECIFIED })],
      nextPageToken: '',
    });
    expect((await get()).statusCode).toBe(500);
  });
});

describe('GET /accounts/{accountId}/summary', () => {
  let gw: TestGateway;
  beforeEach(async () => {
    gw = await startTestGateway();
  });
  afterEach(async () => {
    await gw.close();
  });
  const get = (query: string, account = ALICE) => gw.inject({ method: 'GET', url: `/accounts/${account}/summary${query}` });
  const range = '?from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z';

  it('200 with totals and buckets; granularity defaults to day', async () => {
    const res = await get(range);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      accountId: ALICE,
      currency: 'USD',
      granularity: 'day',
      from: '2025-01-01T00:00:00.000Z',
      to: '2025-02-01T00:00:00.000Z',
      totalIn: '25.00',
      totalOut: '10.50',
      buckets: [{ periodStart: '2025-01-01T00:00:00.000Z', totalIn: '25.00', totalOut: '10.50', countIn: 1, countOut: 1 }],
    });
    expect(gw.clients.analytics.getAccountSummary.mock.calls[0]![0]).toEqual({
      accountId: ALICE,
      fromTime: new Date('2025-01-01T00:00:00Z'),
      toTime: new Date('2025-02-01T00:00:00Z'),
      granularity: SummaryGranularity.SUMMARY_GRANULARITY_DAY,
    });
  });

  it('an account without operations gets zero totals in the default currency', async () => {
    gw.clients.analytics.getAccountSummary.mockResolvedValueOnce({
      accountId: '',
      currencyCode: '',
      buckets: [],
      totalIn: undefined,
      totalOut: undefined,
    });
    const res = await get(`${range}&granularity=month`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ accountId: ALICE, currency: 'USD', granularity: 'month', totalIn: '0.00', totalOut: '0.00', buckets: [] });
  });

  it.each([
    ['missing from', '?to=2025-02-01T00:00:00Z', 'query.from'],
    ['missing to', '?from=2025-01-01T00:00:00Z', 'query.to'],
    ['bad granularity', `${range}&granularity=week`, 'query.granularity'],
  ])('400 for %s', async (_name, query, field) => {
    const res = await get(query);
    expect(res.statusCode).toBe(400);
    expect((problemOf(res).errors as { field: string }[]).map((e) => e.field)).toContain(field);
  });

  it.each([
    ['to before from', '?from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z', 'invalid-time-range'],
    ['from equal to to', '?from=2025-01-01T00:00:00Z&to=2025-01-01T00:00:00Z', 'invalid-time-range'],
    ['more than 366 days by day', '?from=2024-01-01T00:00:00Z&to=2025-01-02T00:00:01Z', 'time-range-too-long'],
    ['more than 10 years by month', '?from=2010-01-01T00:00:00Z&to=2020-01-01T00:00:01Z&granularity=month', 'time-range-too-long'],
  ])('422 for %s (a schema-valid request: not a 400)', async (_name, query, slug) => {
    const res = await get(query);
    expect(res.statusCode).toBe(422);
    expect(problemOf(res)).toMatchObject({ type: `urn:problem:wallet:${slug}`, errors: [{ field: 'query.to' }] });
  });

  it('a summary of a range analytics cannot hold anything in is empty, with the bounds asked for', async () => {
    const res = await get('?from=1900-01-01T00:00:00Z&to=1900-02-01T00:00:00Z');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ from: '1900-01-01T00:00:00.000Z', to: '1900-02-01T00:00:00.000Z', totalIn: '0.00', buckets: [] });
    expect(gw.clients.analytics.getAccountSummary).not.toHaveBeenCalled();
  });

  it('accepts exactly 366 days by day', async () => {
    expect((await get('?from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z')).statusCode).toBe(200);
  });

  it('404 for an unknown account', async () => {
    expect((await get(range, UNKNOWN_ACCOUNT)).statusCode).toBe(404);
  });

  it('503 with Retry-After when analytics is down', async () => {
    gw.clients.analytics.getAccountSummary.mockRejectedValueOnce(transportError(GrpcStatus.UNAVAILABLE, 'down'));
    const res = await get(range);
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
  });

  it('500 (nothing leaked) when analytics fails unexpectedly', async () => {
    gw.clients.analytics.getAccountSummary.mockRejectedValueOnce(transportError(GrpcStatus.INTERNAL, 'clickhouse: table missing'));
    const res = await get(range);
    expect(res.statusCode).toBe(500);
    expect(problemOf(res).detail).not.toContain('clickhouse');
  });

  it('504 when analytics misses the deadline', async () => {
    gw.clients.analytics.getAccountSummary.mockRejectedValueOnce(transportError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'));
    expect((await get(range)).statusCode).toBe(504);
  });
});
