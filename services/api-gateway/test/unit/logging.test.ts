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
