import { describe, expect, it } from 'vitest';
import { checkAmountInput, displayAmount, formatMinor, parseAmountMinor, TOP_UP_RANGE, TRANSFER_RANGE } from '../../src/lib/money';

describe('money in the browser', () => {
  it('parses API amounts into exact minor units and formats them back', () => {
    expect(parseAmountMinor('10.50')).toBe(1050n);
    expect(parseAmountMinor('0.01')).toBe(1n);
    expect(parseAmountMinor('999999999999999.99')).toBe(99999999999999999n);
    expect(formatMinor(99999999999999999n)).toBe('999999999999999.99');
    expect(formatMinor(5n)).toBe('0.05');
    expect(formatMinor(-1050n)).toBe('-10.50');
    for (const bad of ['1e3', '01.00', '1.234', '-1', ' 1', 'NaN', '']) expect(parseAmountMinor(bad)).toBeUndefined();
  });

  it('groups thousands without going through a float', () => {
    expect(displayAmount('1234567.5')).toBe('1,234,567.50');
    expect(displayAmount('999999999999999.99')).toBe('999,999,999,999,999.99');
    expect(displayAmount('0.10')).toBe('0.10');
  });

  it('turns what a person typed into the API form, or says what is wrong', () => {
    expect(checkAmountInput(' 10 ', TRANSFER_RANGE)).toEqual({ ok: true, amount: '10.00', minor: 1000n });
    expect(checkAmountInput('10,5', TRANSFER_RANGE)).toEqual({ ok: true, amount: '10.50', minor: 1050n });
    expect(checkAmountInput('0.1', TRANSFER_RANGE)).toEqual({ ok: true, amount: '0.10', minor: 10n });
    expect(checkAmountInput('1000000', TRANSFER_RANGE)).toMatchObject({ ok: true, amount: '1000000.00' });
    for (const bad of ['', '1e3', '-5', '10.505', '1,000.00', 'ten', '0x10']) expect(checkAmountInput(bad, TRANSFER_RANGE).ok).toBe(false);
    expect(checkAmountInput('0.00', TRANSFER_RANGE)).toEqual({ ok: false, message: 'Enter an amount from 0.01 to 1,000,000.00.' });
    expect(checkAmountInput('1000000.01', TRANSFER_RANGE).ok).toBe(false);
    expect(checkAmountInput('0.99', TOP_UP_RANGE).ok).toBe(false);
    expect(checkAmountInput('10000.00', TOP_UP_RANGE).ok).toBe(true);
    expect(checkAmountInput('10000.01', TOP_UP_RANGE).ok).toBe(false);
  });
});
