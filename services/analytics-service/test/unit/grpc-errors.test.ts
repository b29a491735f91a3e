// The gRPC adapter's failure mapping, with a store stand-in that fails on
// purpose (store behaviour itself is covered against chDB in integration tests).
import { status as Status, type sendUnaryData, type ServerUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { GetAccountSummaryRequest, GetOperationsRequest } from '@wallet/contracts/analytics';
import { createLogger, parseGrpcError } from '@wallet/platform';
import { createAnalyticsServicer } from '../../src/grpc/servicer.js';
import type { OperationsStore } from '../../src/store/operations-store.js';

const logger = createLogger('test', 'silent');
const accountId = '123e4567-e89b-12d3-a456-426614174000';

function call<Req, Res>(handler: (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => void, request: Req): Promise<ServiceError | null> {
  return new Promise((resolve) => handler({ request } as ServerUnaryCall<Req, Res>, (error) => resolve(error as ServiceError | null)));
}

function failingStore(error: unknown): Pick<OperationsStore, 'listOperations' | 'summarize'> {
  return { listOperations: () => Promise.reject(error), summarize: () => Promise.reject(error) };
}

const operations: GetOperationsRequest = { accountId, pageSize: 0, pageToken: '', types: [], fromTime: undefined, toTime: undefined };
const summary: GetAccountSummaryRequest = { accountId, fromTime: new Date('2025-01-01T00:00:00Z'), toTime: new Date('2025-01-02T00:00:00Z'), granularity: 0 };

describe('analytics gRPC error mapping', () => {
  it('maps an unreachable store to UNAVAILABLE / STORE_UNAVAILABLE', async () => {
    const servicer = createAnalyticsServicer(failingStore(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })), logger);
    for (const error of [await call(servicer.getOperations, operations), await call(servicer.getAccountSummary, summary)]) {
      expect(parseGrpcError(error)).toMatchObject({ code: Status.UNAVAILABLE, reason: 'STORE_UNAVAILABLE', domain: 'analytics.wallet' });
    }
  });

  it('maps ClickHouse overload and timeouts (TIMEOUT_EXCEEDED, TOO_MANY_SIMULTANEOUS_QUERIES, MEMORY_LIMIT_EXCEEDED) to UNAVAILABLE, not INTERNAL', async () => {
    for (const [code, text] of [['159', 'Timeout exceeded: elapsed 10.2 seconds'], ['202', 'Too many simultaneous queries. Maximum: 100'], ['241', 'Memory limit (for query) exceeded']]) {
      const servicer = createAnalyticsServicer(failingStore(Object.assign(new Error(text), { code })), logger);
      for (const error of [await call(servicer.getOperations, operations), await call(servicer.getAccountSummary, summary)]) {
        expect(parseGrpcError(error)).toMatchObject({ code: Status.UNAVAILABLE, reason: 'STORE_UNAVAILABLE', domain: 'analytics.wallet' });
      }
    }
  });

  it('maps a ClickHouse server-side error (numeric code) to INTERNAL without leaking its text', async () => {
    const servicer = createAnalyticsServicer(failingStore(Object.assign(new Error('Unknown table secret_db.x'), { code: '60' })), logger);
    const parsed = parseGrpcError(await call(servicer.getOperations, operations));
    expect(parsed).toMatchObject({ code: Status.INTERNAL, reason: 'INTERNAL' });
    expect(parsed.message).not.toContain('secret_db');
  });

  it('maps a broken invariant (mixed currencies) to INTERNAL', async () => {
    const store = {
      listOperations: () => Promise.reject(new Error('unused')),
      summarize: () =>
        Promise.resolve([
          { periodStartMs: Date.UTC(2025, 0, 1), currency: 'USD', totalInMinor: 1n, totalOutMinor: 0n, countIn: 1n, countOut: 0n },
          { periodStartMs: Date.UTC(2025, 0, 1), currency: 'EUR', totalInMinor: 1n, totalOutMinor: 0n, countIn: 1n, countOut: 0n },
        ]),
    };
    const parsed = parseGrpcError(await call(createAnalyticsServicer(store, logger).getAccountSummary, summary));
    expect(parsed).toMatchObject({ code: Status.INTERNAL, reason: 'INTERNAL' });
  });

  it('rejects an unknown granularity with INVALID_ARGUMENT and names the field', async () => {
    const servicer = createAnalyticsServicer(failingStore(new Error('unused')), logger);
    const parsed = parseGrpcError(await call(servicer.getAccountSummary, { ...summary, granularity: 7 }));
    expect(parsed).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: 'INVALID_ARGUMENT', fieldViolations: [{ field: 'granularity', description: 'must be DAY or MONTH' }] });
  });
});
