import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { GATEWAY_REDACT } from '../../src/logging.js';

describe('log redaction', () => {
  it('censors bodies and card data wherever they would be logged', () => {
    const lines: string[] = [];
    const logger = pino({ redact: GATEWAY_REDACT }, { write: (line: string) => lines.push(line) });
    const card = { number: '4242424242424242', cvc: '123', expiryMonth: 1, expiryYear: 2030 };
    logger.info({ body: { amount: '1.00', card } }, 'a');
    logger.info({ req: { body: { card } } }, 'b');
    logger.info({ request: { card } }, 'c');
    logger.info({ topUp: { request: { card } } }, 'd');
    logger.info({ card }, 'e');
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).not.toContain('4242424242424242');
      expect(line).not.toContain('"123"');
    }
  });
});

describe('access log URL', () => {
  it('redacts the sign-in callback code and state, keeps every other query as it came', async () => {
    const { loggableUrl } = await import('../../src/plugins/access-log.js');
    const logged = loggableUrl('/app/callback?code=Zm9vYmFyYmF6cXV4&state=s3cr3t-state&x=1');
    expect(logged).not.toContain('Zm9vYmFyYmF6cXV4');
    expect(logged).not.toContain('s3cr3t-state');
    expect(logged).toBe('/app/callback?code=%5Bredacted%5D&state=%5Bredacted%5D&x=1');
    expect(loggableUrl('/auth/revoke?TOKEN=abc')).not.toContain('abc');
    expect(loggableUrl('/accounts/a/operations?limit=20&cursor=abc')).toBe('/accounts/a/operations?limit=20&cursor=abc');
    expect(loggableUrl('/accounts/a/balance')).toBe('/accounts/a/balance');
  });
});
