import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createOpenApiResponseValidator } from '../src/openapi.js';

const specPath = fileURLToPath(new URL('../../../services/common/wallet-api/openapi.yaml', import.meta.url));
const contract = createOpenApiResponseValidator(specPath);

const ALICE = '123e4567-e89b-12d3-a456-426614174000';
const BOB = '987e6543-e21b-34d3-c456-426614174999';
const transfer = {
  id: 'b1a7c0de-0000-4000-8000-000000000001',
  senderAccountId: ALICE,
  recipientAccountId: BOB,
  amount: '10.50',
  currency: 'USD',
  status: 'completed',
  createdAt: '2025-01-02T03:04:05.678Z',
};
const problem = { type: 'urn:problem:wallet:insufficient-funds', title: 'Insufficient funds', status: 422, detail: 'no' };

function response(statusCode: number, body: unknown, contentType = 'application/json', headers: Record<string, string> = {}) {
  return {
    method: 'POST',
    url: `/accounts/${ALICE}/transfers`,
    statusCode,
    headers: { 'content-type': `${contentType}; charset=utf-8`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

describe('createOpenApiResponseValidator', () => {
  it('finds operations by method and concrete path, query string ignored', () => {
    expect(contract.findOperation('POST', `/accounts/${ALICE}/transfers`)).toMatchObject({ operationId: 'createTransfer' });
    expect(contract.findOperation('GET', `/accounts/${ALICE}/operations?limit=2`)).toMatchObject({ operationId: 'listOperations' });
    expect(contract.findOperation('DELETE', `/accounts/${ALICE}/transfers`)).toBeUndefined();
    expect(contract.findOperation('GET', '/nope')).toBeUndefined();
  });

  it('accepts conforming responses, including declared headers', () => {
    expect(contract.validate(response(201, transfer, 'application/json', { 'idempotent-replayed': 'true' }))).toEqual([]);
    expect(contract.validate(response(422, problem, 'application/problem+json'))).toEqual([]);
    expect(contract.validate(response(503, { ...problem, status: 503 }, 'application/problem+json', { 'retry-after': '2' }))).toEqual([]);
  });

  it('reports a status the operation does not declare', () => {
    expect(contract.validate(response(402, problem, 'application/problem+json')).join()).toMatch(/status 402 is not declared for createTransfer/);
  });

  it('reports an undeclared content type', () => {
    expect(contract.validate(response(422, problem, 'application/json')).join()).toMatch(/content-type application\/json not declared/);
  });

  it('reports body schema violations: extra fields, a number amount, missing fields, bad formats', () => {
    expect(contract.validate(response(201, { ...transfer, extra: 1 })).join()).toMatch(/additional/);
    expect(contract.validate(response(201, { ...transfer, amount: 10.5 })).join()).toMatch(/\/amount must be string/);
    const { createdAt: _createdAt, ...withoutCreatedAt } = transfer;
    expect(contract.validate(response(201, withoutCreatedAt)).join()).toMatch(/createdAt/);
    expect(contract.validate(response(201, { ...transfer, id: 'not-a-uuid' })).join()).toMatch(/\/id/);
    expect(contract.validate(response(201, 'not json')).join()).toMatch(/not JSON/);
  });

  it('reports bad values of declared headers', () => {
    expect(contract.validate(response(201, transfer, 'application/json', { 'idempotent-replayed': 'false' })).join()).toMatch(/Idempotent-Replayed/);
    expect(contract.validate(response(503, { ...problem, status: 503 }, 'application/problem+json', { 'retry-after': 'soon' })).join()).toMatch(/Retry-After/);
  });

  it('reports a request that matches no operation', () => {
    expect(contract.validate({ ...response(404, problem, 'application/problem+json'), url: '/nope' }).join()).toMatch(/no operation/);
  });

  it('assertValid throws with every violation listed', () => {
    expect(() => contract.assertValid(response(201, { ...transfer, amount: 1 }))).toThrow(/breaks openapi.yaml/);
  });

  it('validates named component schemas', () => {
    expect(contract.validateSchema('Problem', problem)).toEqual([]);
    expect(contract.validateSchema('Problem', { title: 'x' }).length).toBeGreaterThan(0);
  });

  it('validates text responses (GET /metrics is text/plain)', () => {
    expect(contract.validate({ method: 'GET', url: '/metrics', statusCode: 200, headers: { 'content-type': 'text/plain; version=0.0.4' }, body: '# HELP x\n' })).toEqual([]);
  });
});
