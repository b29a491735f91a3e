import { contractPaths } from '@wallet/contracts';
import { describe, expect, it } from 'vitest';
import { inlineLocalRefs, loadOpenApiSpec, OpenApiSpecError, parseOpenApiSpec, toFastifyUrl } from '../../src/openapi/spec.js';
import { fakeClients, memoryLogger, testConfig } from '../support/gateway.js';
import { buildServer } from '../../src/server.js';

describe('OpenAPI loader', () => {
  const spec = loadOpenApiSpec(contractPaths.openapi);

  it('finds every operation of the contract', () => {
    expect([...spec.operations.keys()].sort()).toEqual(
      [
        'authorizePage',
        'authorizeSubmit',
        'createAccount',
        'createTopUp',
        'createTransfer',
        'findAccountsByOwner',
        'getAccountSummary',
        'getBalance',
        'getStatement',
        'getLiveness',
        'getMe',
        'getSystemState',
        'getMetrics',
        'getReadiness',
        'issueToken',
        'listOperations',
        'logout',
        'registerUser',
        'revokeToken',
        'createWebhook',
        'listWebhooks',
        'getWebhook',
        'deleteWebhook',
        'endSession',
        'listWebhookDeliveries',
        'redeliverWebhookDelivery',
        'reverseTransfer',
        'rotateWebhookSecret',
        'listTransferReversals',
        'verifyLedger',
        'createHold',
        'getHold',
        'captureHold',
        'voidHold',
        'getAccountLimits',
        'setAccountLimits',
        'refundTopUp',
        'listTopUpRefunds',
      ].sort(),
    );
  });

  it('every /accounts and /me operation requires a token; /auth, health and metrics do not', () => {
    for (const op of spec.operations.values()) {
      const userFacing = op.pathTemplate === '/me' || op.pathTemplate.startsWith('/accounts') || op.pathTemplate.startsWith('/admin') || op.pathTemplate.startsWith('/webhooks') ||
        op.pathTemplate.startsWith('/holds') ||
        op.pathTemplate.startsWith('/topups') ||
        op.pathTemplate.startsWith('/transfers');
      expect({ op: op.operationId, secured: op.secured }).toEqual({ op: op.operationId, secured: userFacing });
      if (userFacing) expect([...op.responseStatuses]).toEqual(expect.arrayContaining([401, 403, 429]));
    }
  });

  it('accepts the form-encoded body of the token endpoint (RFC 6749)', () => {
    const token = spec.operation('issueToken');
    expect(token.bodyContentTypes).toEqual(['application/x-www-form-urlencoded']);
    expect(JSON.stringify(token.schema.body)).toContain('grant_type');
  });

  it('declares the OAuth 2.0 password flow (tokenUrl and refreshUrl /auth/token) for Swagger UI', () => {
    const schemes = (spec.document.components as { securitySchemes: Record<string, { flows?: { password?: unknown } }> }).securitySchemes;
    expect(schemes.oauth2Password!.flows!.password).toMatchObject({ tokenUrl: '/auth/token', refreshUrl: '/auth/token' });
  });

  it('derives Fastify request schemas from the operation, $refs inlined', () => {
    const transfer = spec.operation('createTransfer');
    expect(transfer).toMatchObject({ method: 'POST', url: '/accounts/:accountId/transfers', bodyContentTypes: ['application/json'] });
    expect(transfer.schema.params).toMatchObject({ type: 'object', required: ['accountId'], properties: { accountId: { type: 'string', format: 'uuid' } } });
    expect(transfer.schema.headers).toMatchObject({
      required: ['idempotency-key'],
      properties: { 'idempotency-key': { minLength: 1, maxLength: 255 }, 'x-request-id': { maxLength: 128 } },
    });
    expect(transfer.schema.body).toMatchObject({
      additionalProperties: false,
      required: ['recipientAccountId', 'amount'],
      properties: { amount: { type: 'string', pattern: expect.any(String) } },
    });
    expect(JSON.stringify(transfer.schema)).not.toContain('$ref');
    expect([...transfer.responseStatuses]).toEqual(expect.arrayContaining([201, 400, 404, 409, 413, 415, 422, 503, 504]));
  });

  it('query parameters keep their defaults and enums', () => {
    const list = spec.operation('listOperations');
    expect(list.schema.querystring).toMatchObject({
      properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, type: { enum: ['transfer_in', 'transfer_out', 'topup', 'hold_created', 'hold_captured', 'hold_voided', 'hold_expired', 'reversal_out', 'reversal_in', 'refund', 'refund_cancelled'] } },
    });
    expect(spec.operation('getAccountSummary').schema.querystring).toMatchObject({ required: ['from', 'to'] });
  });

  it('keeps the YAML text and the untouched document', () => {
    expect(spec.text).toContain('openapi: 3.1.0');
    expect(JSON.stringify(spec.raw)).toContain('#/components/schemas/Money');
  });

  it('converts path templates and rejects what it does not support', () => {
    expect(toFastifyUrl('/a/{b}/c/{d}')).toBe('/a/:b/c/:d');
    expect(() => inlineLocalRefs({ a: { $ref: '#/b' }, b: { $ref: '#/a' } })).toThrow(OpenApiSpecError);
    expect(() => inlineLocalRefs({ a: { $ref: 'other.yaml#/x' } })).toThrow(OpenApiSpecError);
    expect(() => inlineLocalRefs({ a: { $ref: '#/missing' } })).toThrow(OpenApiSpecError);
    expect(() => parseOpenApiSpec('openapi: 3.0.3\npaths: {}\n')).toThrow(OpenApiSpecError);
    expect(() => spec.operation('nope')).toThrow(OpenApiSpecError);
  });

  it('keeps keywords beside a $ref (allowed in 3.1)', () => {
    expect(inlineLocalRefs({ s: { $ref: '#/t', description: 'd' }, t: { type: 'string' } }).s).toEqual({ type: 'string', description: 'd' });
  });

  it('the server refuses to start when an operation has no route', async () => {
    const extra = `${spec.text}\n`.replace(
      'paths:\n',
      'paths:\n  /extra:\n    get:\n      operationId: getExtra\n      responses:\n        "200":\n          description: ok\n',
    );
    await expect(
      buildServer({ config: testConfig(), clients: fakeClients(), logger: memoryLogger().logger, spec: parseOpenApiSpec(extra) }),
    ).rejects.toThrow(/getExtra/);
  });
});
