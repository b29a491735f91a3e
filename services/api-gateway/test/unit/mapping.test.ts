import { status as GrpcStatus } from '@grpc/grpc-js';
import { OperationType, SummaryGranularity } from '@wallet/contracts/analytics';
import { TransferStatus } from '@wallet/contracts/bank';
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import type { ParsedGrpcError } from '@wallet/platform';
import { describe, expect, it } from 'vitest';
import { fromGetBalanceAtResponse, fromGetBalanceResponse } from '../../src/mapping/balance.js';
import { canonicalUuid, fromMoney, toMoney, UnexpectedUpstreamResponseError } from '../../src/mapping/common.js';
import { fromGetOperationsResponse, toGetOperationsRequest } from '../../src/mapping/operations.js';
import {
  chargedFromMetadata,
  normalizeReason,
  problemFromGrpcError,
  ProblemError,
  PROBLEMS_BY_REASON,
} from '../../src/mapping/problems.js';
import { fromGetAccountSummaryResponse, toGetAccountSummaryRequest } from '../../src/mapping/summary.js';
import { fromProcessCardTopUpResponse, toProcessCardTopUpRequest } from '../../src/mapping/topup.js';
import { fromTransferMoneyResponse, toTransferMoneyRequest } from '../../src/mapping/transfers.js';
import { fieldErrorsFromValidation, validationProblem } from '../../src/mapping/validation.js';
import { requestIdFrom } from '../../src/plugins/request-id.js';
import { ALICE, BOB, CREATED_AT, balanceParts, operation } from '../support/gateway.js';

function parsed(code: GrpcStatus, reason?: string, metadata: Record<string, string> = {}, message = 'downstream says no'): ParsedGrpcError {
  return { code, reason, domain: 'test', message, metadata, fieldViolations: [] };
}

describe('amounts', () => {
  it.each([
    ['10.50', 1050n],
    ['10.5', 1050n],
    ['10', 1000n],
    ['0.01', 1n],
    ['999999999999999.99', 99999999999999999n],
  ])('"%s" -> %s minor units', (amount, minor) => {
    expect(toMoney(amount, 'USD')).toEqual({ amountMinor: minor, currencyCode: 'USD' });
  });

  it.each(['0', '0.00', '10.505', '-1', '1e3', '01.00', ' 1.00', '1,00', ''])('refuses "%s" with a field error', (amount) => {
    expect(() => toMoney(amount, 'USD')).toThrow(ProblemError);
    try {
      toMoney(amount, 'USD');
    } catch (error) {
      expect((error as ProblemError).extensions.errors![0]!.field).toBe('body.amount');
      expect((error as ProblemError).kind.status).toBe(400);
    }
  });

  it('formats minor units with exactly two decimals', () => {
    expect(fromMoney({ amountMinor: 5n, currencyCode: 'USD' }, 'x')).toEqual({ amount: '0.05', currency: 'USD' });
    expect(fromMoney({ amountMinor: 100_000n, currencyCode: 'USD' }, 'x')).toEqual({ amount: '1000.00', currency: 'USD' });
    expect(() => fromMoney(undefined, 'x')).toThrow(UnexpectedUpstreamResponseError);
    expect(() => fromMoney({ amountMinor: -1n, currencyCode: 'USD' }, 'x')).toThrow(UnexpectedUpstreamResponseError);
  });

  it('canonical UUIDs are lower case', () => {
    expect(canonicalUuid('ABCDEF00-0000-4000-8000-00000000000A')).toBe('abcdef00-0000-4000-8000-00000000000a');
  });
});

describe('transfers', () => {
  it('REST -> TransferMoneyRequest', () => {
    expect(toTransferMoneyRequest(ALICE.toUpperCase(), { recipientAccountId: BOB, amount: '1.25' }, 'k', 'USD')).toEqual({
      senderAccountId: ALICE,
      recipientAccountId: BOB,
      amount: { amountMinor: 125n, currencyCode: 'USD' },
      idempotencyKey: 'k',
      description: '',
    });
  });

  it('TransferMoneyResponse -> Transfer; anything but completed is an upstream error', () => {
    const transfer = {
      id: 't',
      senderAccountId: ALICE,
      recipientAccountId: BOB,
      amount: { amountMinor: 125n, currencyCode: 'USD' },
      status: TransferStatus.TRANSFER_STATUS_COMPLETED,
      description: '',
      createdAt: CREATED_AT,
      initiatedBy: '',
    };
    expect(fromTransferMoneyResponse({ transfer, replayed: true })).toEqual({
      transfer: { id: 't', senderAccountId: ALICE, recipientAccountId: BOB, amount: '1.25', currency: 'USD', status: 'completed', createdAt: CREATED_AT.toISOString() },
      replayed: true,
    });
    expect(() => fromTransferMoneyResponse({ transfer: { ...transfer, status: TransferStatus.TRANSFER_STATUS_UNSPECIFIED }, replayed: false })).toThrow(
      UnexpectedUpstreamResponseError,
    );
    expect(() => fromTransferMoneyResponse({ transfer: { ...transfer, createdAt: undefined }, replayed: false })).toThrow(UnexpectedUpstreamResponseError);
  });
});

describe('balance', () => {
  it('GetBalanceResponse -> Balance', () => {
    expect(fromGetBalanceResponse({ accountId: ALICE, balance: { amountMinor: 50_000n, currencyCode: 'USD' }, updatedAt: CREATED_AT, ...balanceParts(50_000n), overdraftLimit: { amountMinor: 0n, currencyCode: 'USD' } })).toEqual({
      accountId: ALICE,
      balance: '500.00',
      available: '500.00',
      pending: '0.00',
      posted: '500.00',
      overdraftLimit: '0.00',
      currency: 'USD',
      updatedAt: CREATED_AT.toISOString(),
    });
  });

  it('GetBalanceAtResponse -> BalanceAt (signed: posted may be below zero under an overdraft)', () => {
    expect(fromGetBalanceAtResponse({ accountId: ALICE, balance: { amountMinor: -1n, currencyCode: 'USD' }, at: CREATED_AT, lastEntryId: 3n })).toEqual({
      accountId: ALICE,
      balance: '-0.01',
      currency: 'USD',
      at: CREATED_AT.toISOString(),
    });
  });
});

describe('operations and summary', () => {
  it('query -> GetOperationsRequest', () => {
    expect(toGetOperationsRequest(ALICE, { limit: 5, type: 'transfer_in', from: '2025-01-01T00:00:00Z' })).toEqual({
      accountId: ALICE,
      pageSize: 5,
      pageToken: '',
      types: [OperationType.OPERATION_TYPE_TRANSFER_IN],
      fromTime: new Date('2025-01-01T00:00:00Z'),
      toTime: undefined,
    });
    expect(() => toGetOperationsRequest(ALICE, { limit: 5, from: '2025-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z' })).toThrow(ProblemError);
  });

  it('empty next page token -> nextCursor null; empty optional fields are left out', () => {
    const page = fromGetOperationsResponse({
      operations: [operation({ type: OperationType.OPERATION_TYPE_TRANSFER_IN, description: '' })],
      nextPageToken: '',
    });
    expect(page.nextCursor).toBeNull();
    expect(page.items[0]).not.toHaveProperty('description');
    expect(page.items[0]).not.toHaveProperty('topUpId');
    expect(page.items[0]!.type).toBe('transfer_in');
    expect(fromGetOperationsResponse({ operations: [], nextPageToken: 'c2' }).nextCursor).toBe('c2');
  });

  it('summary ranges: day up to 366 days, month up to 10 years', () => {
    const request = toGetAccountSummaryRequest(ALICE, { from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z', granularity: 'day' });
    expect(request.granularity).toBe(SummaryGranularity.SUMMARY_GRANULARITY_DAY);
    expect(() => toGetAccountSummaryRequest(ALICE, { from: '2024-01-01T00:00:00Z', to: '2025-01-01T00:00:01Z', granularity: 'day' })).toThrow(ProblemError);
    expect(toGetAccountSummaryRequest(ALICE, { from: '2015-01-01T00:00:00Z', to: '2025-01-01T00:00:00Z', granularity: 'month' }).granularity).toBe(
      SummaryGranularity.SUMMARY_GRANULARITY_MONTH,
    );
    expect(() => toGetAccountSummaryRequest(ALICE, { from: '2015-01-01T00:00:00Z', to: '2025-01-01T00:00:01Z', granularity: 'month' })).toThrow(ProblemError);
  });

  it('summary counts are plain numbers; a count beyond 2^53 is an upstream error', () => {
    const query = { from: '2025-01-01T00:00:00Z', to: '2025-01-02T00:00:00Z', granularity: 'day' as const };
    const request = toGetAccountSummaryRequest(ALICE, query);
    const bucket = { periodStart: CREATED_AT, totalIn: undefined, totalOut: undefined, countIn: 3n, countOut: 0n };
    const summary = fromGetAccountSummaryResponse({ accountId: ALICE, currencyCode: 'USD', buckets: [bucket], totalIn: undefined, totalOut: undefined }, request, query, 'USD');
    expect(summary.buckets[0]).toEqual({ periodStart: CREATED_AT.toISOString(), totalIn: '0.00', totalOut: '0.00', countIn: 3, countOut: 0 });
    expect(() =>
      fromGetAccountSummaryResponse({ accountId: ALICE, currencyCode: 'USD', buckets: [{ ...bucket, countIn: 2n ** 60n }], totalIn: undefined, totalOut: undefined }, request, query, 'USD'),
    ).toThrow(UnexpectedUpstreamResponseError);
  });
});

describe('top-ups', () => {
  const body = { amount: '25.00', card: { number: '4000 0000 0000 0002', expiryMonth: 1, expiryYear: 2031, cvc: '1234' } };

  it('REST -> ProcessCardTopUpRequest: digits only, empty holder name when absent', () => {
    expect(toProcessCardTopUpRequest(ALICE, body, 'k', 'USD')).toEqual({
      accountId: ALICE,
      amount: { amountMinor: 2500n, currencyCode: 'USD' },
      card: { number: '4000000000000002', expiryMonth: 1, expiryYear: 2031, cvc: '1234', holderName: '' },
      idempotencyKey: 'k',
    });
  });

  it('only a completed top-up is a success', () => {
    const topUp = { id: 'u', accountId: ALICE, amount: { amountMinor: 2500n, currencyCode: 'USD' }, status: TopUpStatus.TOP_UP_STATUS_COMPLETED, cardLast4: '0002', cardBrand: '', createdAt: CREATED_AT, charged: 'true', failureReason: '', failureMessage: '', initiatedBy: '' };
    expect(fromProcessCardTopUpResponse({ topUp, replayed: false }).topUp).toEqual({
      id: 'u', accountId: ALICE, amount: '25.00', currency: 'USD', status: 'completed', cardLast4: '0002', createdAt: CREATED_AT.toISOString(),
    });
    expect(() => fromProcessCardTopUpResponse({ topUp: { ...topUp, status: TopUpStatus.TOP_UP_STATUS_UNSPECIFIED }, replayed: false })).toThrow(
      UnexpectedUpstreamResponseError,
    );
    expect(() => fromProcessCardTopUpResponse({ topUp: undefined, replayed: false })).toThrow(UnexpectedUpstreamResponseError);
  });
});

describe('gRPC error -> problem table', () => {
  it.each([
    [GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT', 400, 'invalid-argument'],
    [GrpcStatus.INVALID_ARGUMENT, 'INVALID_AMOUNT', 422, 'amount-out-of-range'],
    [GrpcStatus.INVALID_ARGUMENT, 'INVALID_CURSOR', 422, 'invalid-cursor'],
    [GrpcStatus.INVALID_ARGUMENT, 'INVALID_CARD_NUMBER', 422, 'invalid-card-number'],
    [GrpcStatus.INVALID_ARGUMENT, 'CARD_EXPIRED', 422, 'card-expired'],
    [GrpcStatus.INVALID_ARGUMENT, 'INVALID_CVC', 422, 'invalid-cvc'],
    [GrpcStatus.FAILED_PRECONDITION, 'CARD_DECLINED', 402, 'card-declined'],
    [GrpcStatus.FAILED_PRECONDITION, 'CARD_INSUFFICIENT_FUNDS', 402, 'card-insufficient-funds'],
    [GrpcStatus.NOT_FOUND, 'ACCOUNT_NOT_FOUND', 404, 'account-not-found'],
    [GrpcStatus.ABORTED, 'IDEMPOTENCY_KEY_IN_FLIGHT', 409, 'idempotency-key-in-flight'],
    [GrpcStatus.FAILED_PRECONDITION, 'INSUFFICIENT_FUNDS', 422, 'insufficient-funds'],
    [GrpcStatus.FAILED_PRECONDITION, 'SAME_ACCOUNT', 422, 'same-account'],
    [GrpcStatus.FAILED_PRECONDITION, 'CURRENCY_MISMATCH', 422, 'currency-mismatch'],
    [GrpcStatus.FAILED_PRECONDITION, 'IDEMPOTENCY_KEY_REUSED', 422, 'idempotency-key-reused'],
    [GrpcStatus.UNAVAILABLE, 'PAYMENT_GATEWAY_ERROR', 502, 'payment-gateway-error'],
    [GrpcStatus.ABORTED, 'DEPOSIT_FAILED_REFUNDED', 502, 'top-up-refunded'],
    [GrpcStatus.ABORTED, 'REFUND_FAILED', 502, 'top-up-refund-failed'],
    [GrpcStatus.UNAVAILABLE, 'TOP_UP_PENDING', 503, 'top-up-pending'],
    [GrpcStatus.UNAVAILABLE, 'STORAGE_UNAVAILABLE', 503, 'service-unavailable'],
    [GrpcStatus.UNAVAILABLE, 'STORE_UNAVAILABLE', 503, 'service-unavailable'],
    [GrpcStatus.DEADLINE_EXCEEDED, 'PAYMENT_GATEWAY_TIMEOUT', 504, 'payment-gateway-timeout'],
    [GrpcStatus.UNAVAILABLE, undefined, 503, 'service-unavailable'],
    [GrpcStatus.DEADLINE_EXCEEDED, undefined, 504, 'upstream-timeout'],
    [GrpcStatus.RESOURCE_EXHAUSTED, undefined, 503, 'service-unavailable'],
    [GrpcStatus.NOT_FOUND, undefined, 404, 'not-found'],
    [GrpcStatus.ABORTED, undefined, 409, 'conflict'],
    [GrpcStatus.FAILED_PRECONDITION, 'SOMETHING_NEW', 422, 'unprocessable'],
    [GrpcStatus.INTERNAL, undefined, 500, 'internal-error'],
    [GrpcStatus.UNKNOWN, undefined, 500, 'internal-error'],
    [GrpcStatus.UNIMPLEMENTED, undefined, 500, 'internal-error'],
  ] as const)('%s / %s -> %s %s', (code, reason, status, slug) => {
    const { problem, unexpected } = problemFromGrpcError(parsed(code, reason));
    expect(problem.status).toBe(status);
    expect(problem.type).toBe(`urn:problem:wallet:${slug}`);
    expect(unexpected).toBe(status === 500);
    if (status >= 500) expect(problem.detail).not.toBe('downstream says no');
    else expect(problem.detail).toBe('downstream says no');
  });

  it('invalid card reasons each have their own type', () => {
    const types = ['INVALID_CARD_NUMBER', 'CARD_EXPIRED', 'INVALID_CVC'].map((r) => PROBLEMS_BY_REASON[r]!.slug);
    expect(new Set(types).size).toBe(3);
  });

  it('accepts reasons spelled as the proto enum name', () => {
    expect(normalizeReason('ERROR_REASON_SAME_ACCOUNT')).toBe('SAME_ACCOUNT');
    expect(normalizeReason('SAME_ACCOUNT')).toBe('SAME_ACCOUNT');
    expect(normalizeReason('')).toBeUndefined();
  });

  it('BadRequest field violations become `errors` on a 400', () => {
    const error = { ...parsed(GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT'), fieldViolations: [{ field: 'amount', description: 'too big' }] };
    expect(problemFromGrpcError(error).problem.errors).toEqual([{ field: 'amount', message: 'too big' }]);
  });

  it('an INVALID_ARGUMENT naming only rule fields (expiry, time zone) is a 422: the request matched the contract', () => {
    for (const field of ['expires_at', 'time_zone']) {
      const error = { ...parsed(GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT'), fieldViolations: [{ field, description: 'not allowed' }] };
      expect(problemFromGrpcError(error).problem).toMatchObject({ status: 422, code: 'INVALID_FIELD_VALUE', errors: [{ field, message: 'not allowed' }] });
    }
    const cursor = { ...parsed(GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT'), fieldViolations: [{ field: 'page_token', description: 'not a token' }] };
    expect(problemFromGrpcError(cursor).problem).toMatchObject({ status: 422, code: 'INVALID_CURSOR' });
    const mixed = { ...parsed(GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT'), fieldViolations: [{ field: 'time_zone', description: 'x' }, { field: 'amount', description: 'y' }] };
    expect(problemFromGrpcError(mixed).problem.status).toBe(400);
  });

  it('top-ups: charged from ErrorInfo metadata; decline code on 402', () => {
    const declined = problemFromGrpcError(parsed(GrpcStatus.FAILED_PRECONDITION, 'CARD_DECLINED', { charged: 'false', decline_code: 'stolen_card' }), { topUp: true });
    expect(declined.problem).toMatchObject({ status: 402, charged: false, declineCode: 'stolen_card' });
    const pending = problemFromGrpcError(parsed(GrpcStatus.UNAVAILABLE, 'TOP_UP_PENDING', { charged: 'true' }), { topUp: true });
    expect(pending.problem.charged).toBe(true);
    const notTopUp = problemFromGrpcError(parsed(GrpcStatus.UNAVAILABLE, 'TOP_UP_PENDING', { charged: 'true' }));
    expect(notTopUp.problem).not.toHaveProperty('charged');
  });

  it('charged: metadata wins; without it 4xx means not charged and 5xx means unknown', () => {
    expect(chargedFromMetadata('true', 400)).toBe(true);
    expect(chargedFromMetadata('false', 503)).toBe(false);
    expect(chargedFromMetadata(undefined, 404)).toBe(false);
    expect(chargedFromMetadata(undefined, 503)).toBeUndefined();
  });
});

describe('validation errors', () => {
  it('name the field with its location; one message per field; unknown and missing fields named', () => {
    const errors = fieldErrorsFromValidation('body', [
      { keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'currency' }, message: 'x' },
      { keyword: 'required', instancePath: '/card', params: { missingProperty: 'cvc' }, message: 'x' },
      { keyword: 'pattern', instancePath: '/recipientAccountId', params: {}, message: 'must match pattern' },
      { keyword: 'format', instancePath: '/recipientAccountId', params: {}, message: 'must match format "uuid"' },
      { keyword: 'anyOf', instancePath: '', params: {}, message: 'must match a schema in anyOf' },
    ]);
    expect(errors).toEqual([
      { field: 'body.currency', message: 'is not allowed (unknown field)' },
      { field: 'body.card.cvc', message: 'is required' },
      { field: 'body.recipientAccountId', message: 'must match format "uuid"' },
    ]);
  });

  it('a bad Idempotency-Key alone gets its own problem type', () => {
    const issue = { keyword: 'required', instancePath: '', params: { missingProperty: 'idempotency-key' }, message: 'x' };
    expect(validationProblem('headers', [issue]).kind.slug).toBe('invalid-idempotency-key');
    expect(validationProblem('querystring', [{ ...issue, params: { missingProperty: 'from' } }]).kind.slug).toBe('validation-error');
  });
});

describe('request ids', () => {
  it('keeps safe ids, replaces the rest with a UUID', () => {
    expect(requestIdFrom('abc-123')).toBe('abc-123');
    expect(requestIdFrom(['first', 'second'])).toBe('first');
    for (const bad of [undefined, '', 'has space', 'x'.repeat(129), 'new\nline', 'ünï']) {
      expect(requestIdFrom(bad)).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});
