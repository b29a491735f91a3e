// What schemathesis found at the edge, one test each: a request the contract
// allows is never a 400, an undeclared method is a 405 with Allow, and no input
// a JSON parser accepts is a 5xx or reaches a service changed.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALICE, BOB, problemOf, startTestGateway, type TestGateway } from '../support/gateway.js';

const card = { number: '4242424242424242', expiryMonth: 12, expiryYear: 2030, cvc: '123' };

describe('contract edges', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw.close();
  });
  beforeEach(() => {
    gw.clients.bank.transferMoney.mockClear();
    gw.clients.cardAdapter.processCardTopUp.mockClear();
  });

  const transfer = (body: unknown, headers: Record<string, string> = {}) =>
    gw.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/transfers`,
      headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1', ...headers },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const topUp = (body: unknown) =>
    gw.inject({
      method: 'POST',
      url: `/accounts/${ALICE}/topup`,
      headers: { 'content-type': 'application/json', 'idempotency-key': 't-1' },
      payload: JSON.stringify(body),
    });

  describe('methods a path does not declare', () => {
    it.each([
      ['QUERY', `/accounts/${ALICE}/balance`, {}],
      ['PUT with a body that is not JSON', `/accounts/${ALICE}/balance`, { 'content-type': 'application/json' }],
      ['DELETE', `/accounts/${ALICE}/transfers`, {}],
      ['GET', `/accounts/${ALICE}/topup`, {}],
    ])('%s is 405 problem+json with Allow', async (name, url, headers) => {
      const method = name.split(' ')[0]!;
      const res = await gw.inject({ method: method as 'GET', url, headers, payload: name.includes('body') ? '{' : undefined });
      expect(res.statusCode).toBe(405);
      expect(res.headers.allow).toBeTruthy();
      expect(problemOf(res)).toMatchObject({ type: 'urn:problem:wallet:method-not-allowed', status: 405 });
    });

    it('an unknown path stays 404, whatever the method and body', async () => {
      const res = await gw.inject({ method: 'PUT', url: '/nowhere', headers: { 'content-type': 'application/json' }, payload: '{' });
      expect(res.statusCode).toBe(404);
      expect(problemOf(res).type).toBe('urn:problem:wallet:route-not-found');
    });
  });

  describe('amounts: the limits are in the schema', () => {
    it.each([
      ['zero', '0.00'],
      ['above the transfer maximum', '1000000.01'],
      ['far above it', '999999999999999.99'],
    ])('a transfer of %s is a 400 at the edge, never sent to the bank', async (_name, amount) => {
      const res = await transfer({ recipientAccountId: BOB, amount });
      expect(res.statusCode).toBe(400);
      expect(problemOf(res).errors).toEqual([expect.objectContaining({ field: 'body.amount' })]);
      expect(gw.clients.bank.transferMoney).not.toHaveBeenCalled();
    });

    it.each(['0.01', '1000000.00', '1000000'])('a transfer of %s is accepted', async (amount) => {
      expect((await transfer({ recipientAccountId: BOB, amount })).statusCode).toBe(201);
    });

    it.each(['0.99', '10000.01'])('a top-up of %s is a 400 at the edge', async (amount) => {
      const res = await topUp({ amount, card });
      expect(res.statusCode).toBe(400);
      expect(gw.clients.cardAdapter.processCardTopUp).not.toHaveBeenCalled();
    });

    it('a card number of spaces only is a 400 at the edge', async () => {
      const res = await topUp({ amount: '5.00', card: { ...card, number: '            ' } });
      expect(res.statusCode).toBe(400);
      expect(gw.clients.cardAdapter.processCardTopUp).not.toHaveBeenCalled();
    });
  });

  describe('text that has no faithful UTF-8 form or is a control character', () => {
    it.each([
      ['a NUL byte', '"a\\u0000b"'],
      ['a control character', '"tab\\u001b"'],
      ['a lone high surrogate', '"\\ud800"'],
      ['a lone low surrogate', '"x\\udc00y"'],
    ])('a description with %s is a 400 naming the field', async (_name, json) => {
      const res = await transfer(`{"recipientAccountId":"${BOB}","amount":"1.00","description":${json}}`);
      expect(res.statusCode).toBe(400);
      expect(problemOf(res).errors).toEqual([expect.objectContaining({ field: 'body.description' })]);
      expect(gw.clients.bank.transferMoney).not.toHaveBeenCalled();
    });

    it('a surrogate pair (an emoji) is text and passes', async () => {
      const res = await transfer(`{"recipientAccountId":"${BOB}","amount":"1.00","description":"\\ud83d\\ude00"}`);
      expect(res.statusCode).toBe(201);
      expect(gw.clients.bank.transferMoney.mock.calls[0]![0].description).toBe('😀');
    });

    it('a lone surrogate in an unknown key is a 400 too', async () => {
      const res = await transfer(`{"recipientAccountId":"${BOB}","amount":"1.00","\\ud800":1}`);
      expect(res.statusCode).toBe(400);
    });
  });

  describe('anything else a JSON parser accepts is a 4xx', () => {
    it.each([
      ['a huge number for an integer', { amount: '5.00', card: { ...card, expiryYear: 1e308 } }],
      ['an exponent overflowing to Infinity', '{"amount":"5.00","card":{"number":"4242424242424242","expiryMonth":1e400,"expiryYear":2030,"cvc":"123"}}'],
      ['a number for the amount', { amount: 5, card }],
      ['an array body', [1, 2, 3]],
      ['null', 'null'],
      ['deep nesting', `{"amount":"5.00","card":${'['.repeat(5000)}${']'.repeat(5000)}}`],
      ['a __proto__ key', '{"__proto__":{"x":1},"amount":"5.00"}'],
    ])('%s', async (_name, body) => {
      const res = await gw.inject({
        method: 'POST',
        url: `/accounts/${ALICE}/topup`,
        headers: { 'content-type': 'application/json', 'idempotency-key': 't-2' },
        payload: typeof body === 'string' ? body : JSON.stringify(body),
      });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
      expect(gw.clients.cardAdapter.processCardTopUp).not.toHaveBeenCalled();
    });

    it('an Idempotency-Key of 10 KB is a 400 invalid-idempotency-key', async () => {
      const res = await transfer({ recipientAccountId: BOB, amount: '1.00' }, { 'idempotency-key': 'k'.repeat(10_240) });
      expect(res.statusCode).toBe(400);
      expect(problemOf(res).type).toBe('urn:problem:wallet:invalid-idempotency-key');
    });

    it('an Idempotency-Key with spaces or non-ASCII bytes is a 400', async () => {
      for (const key of ['has space', 'caf\u00e9']) {
        const res = await transfer({ recipientAccountId: BOB, amount: '1.00' }, { 'idempotency-key': key });
        expect(res.statusCode).toBe(400);
      }
      expect(gw.clients.bank.transferMoney).not.toHaveBeenCalled();
    });
  });
});
