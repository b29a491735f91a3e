// Pure unit tests of the chaos run's statement, balance-at and ledger-verification checks
// (scripts/chaos/statement-facts.mjs): each check is shown to catch its fault.
import { describe, expect, it } from 'vitest';
import type { Op } from '../../scripts/chaos/model.mjs';
import {
  checkBalanceAt,
  checkLedgerVerification,
  checkStatement,
  expectedEntries,
  parseSignedMinor,
  type Statement,
} from '../../scripts/chaos/statement-facts.mjs';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'aaaaaaaa-0000-4000-8000-000000000002';
const T1 = 'bbbbbbbb-0000-4000-8000-000000000001';
const U1 = 'cccccccc-0000-4000-8000-000000000001';
const F1 = 'eeeeeeee-0000-4000-8000-000000000001';

const ops: Op[] = [
  { kind: 'transfer', key: 't1', from: A, to: B, amountMinor: 2_500n, outcome: 'completed', resultId: T1, answers: [] },
  { kind: 'topup', key: 'u1', accountId: A, amountMinor: 1_000n, outcome: 'completed', resultId: U1, answers: [] },
  // Declined by the card: debited, then credited back.
  { kind: 'refund', key: 'f1', accountId: A, topUpId: U1, amountMinor: 1_000n, outcome: 'completed', resultId: F1, refundStatus: 'failed', failureReason: 'CARD_REFUND_DECLINED', answers: [] },
  { kind: 'transfer', key: 't2', from: B, to: A, amountMinor: 300n, outcome: 'rejected', answers: [] },
];

const entry = (entryId: string, type: string, amount: string, balance: string, createdAt = `2026-12-02T10:00:0${entryId}Z`) => ({
  entryId,
  createdAt,
  type,
  amount,
  balance,
  referenceId: '',
  description: '',
});
const statementOfA = (over: Partial<Statement> = {}): Statement => ({
  accountId: A,
  currency: 'USD',
  from: '2026-12-02T09:00:00Z',
  to: '2026-12-02T11:00:00Z',
  openingBalance: '100.00',
  entries: [entry('1', 'transfer', '-25.00', '75.00'), entry('2', 'deposit', '10.00', '85.00'), entry('3', 'refund', '-10.00', '75.00'), entry('4', 'refund', '10.00', '85.00')],
  closingBalance: '85.00',
  totalIn: '20.00',
  totalOut: '35.00',
  entryCount: 4,
  ...over,
});
const checkA = (statement: Statement, over: { postedMinor?: bigint; modelMinor?: bigint } = {}) =>
  checkStatement({ accountId: A, statement, postedMinor: 8_500n, modelMinor: 8_500n, openingMinor: 10_000n, expected: expectedEntries(ops).get(A), ...over });

describe('parseSignedMinor', () => {
  it('parses signed statement amounts exactly', () => {
    expect(parseSignedMinor('-12.5')).toBe(-1250n);
    expect(parseSignedMinor('0.07')).toBe(7n);
    expect(() => parseSignedMinor('--1')).toThrow();
  });
});

describe('expectedEntries', () => {
  it('expects one ledger entry per posted movement with its sign (a declined refund: out and back), none for a refusal', () => {
    expect(expectedEntries(ops).get(A)).toEqual(new Map([['transfer:-25.00', 1], ['deposit:10.00', 1], ['refund:-10.00', 1], ['refund:10.00', 1]]));
    expect(expectedEntries(ops).get(B)).toEqual(new Map([['transfer:25.00', 1]]));
  });
});

describe('checkStatement', () => {
  it('passes a statement that opens at the seeded balance, adds up and closes at the posted balance and the model', () => {
    expect(checkA(statementOfA())).toEqual([]);
  });

  it('catches a running balance that does not add up, and a closing balance that is not the sum', () => {
    const broken = statementOfA();
    broken.entries[1] = entry('2', 'deposit', '10.00', '86.00');
    expect(checkA(broken).map((v) => v.invariant)).toEqual(['statement running balances add up']);
    expect(checkA(statementOfA({ closingBalance: '86.00' })).map((v) => v.invariant)).toEqual([
      'statement adds up (opening + entries = closing)',
      'statement closes at the posted balance and the model',
    ]);
  });

  it('catches a closing balance other than the posted one or the model, and an opening other than the seeded one', () => {
    expect(checkA(statementOfA(), { postedMinor: 8_400n }).map((v) => v.invariant)).toEqual(['statement closes at the posted balance and the model']);
    expect(checkA(statementOfA(), { modelMinor: 8_600n }).map((v) => v.detail)).toEqual([`account ${A}: closing 85.00, posted 85.00, model 86.00`]);
    expect(checkA(statementOfA({ openingBalance: '90.00' })).map((v) => v.invariant)).toContain('statement opens at the balance before the run');
  });

  it('catches an entry no acknowledged request made, a missing one, wrong totals and entries out of time order', () => {
    const twice = statementOfA();
    twice.entries = [...twice.entries.slice(0, 3), entry('4', 'transfer', '-25.00', '50.00'), entry('5', 'refund', '10.00', '60.00')];
    const details = checkA({ ...twice, closingBalance: '60.00', entryCount: 5, totalOut: '60.00' }, { postedMinor: 6_000n, modelMinor: 6_000n }).map((v) => v.detail);
    expect(details).toEqual([`account ${A}: transfer:-25.00: 1 expected, 2 found`]);
    const missing = statementOfA({ closingBalance: '75.00', entryCount: 3, totalIn: '10.00' });
    missing.entries = missing.entries.slice(0, 3);
    expect(checkA(missing, { postedMinor: 7_500n }).map((v) => v.detail)).toEqual([
      `account ${A}: closing 75.00, posted 75.00, model 85.00`,
      `account ${A}: refund:10.00: 1 expected, 0 found`,
    ]);
    expect(checkA(statementOfA({ totalIn: '10.00' })).map((v) => v.invariant)).toEqual(['statement adds up (opening + entries = closing)']);
    const late = statementOfA();
    late.entries[1] = { ...late.entries[1]!, createdAt: '2026-12-02T09:59:00Z' };
    expect(checkA(late).map((v) => v.invariant)).toEqual(['statement entries in time order']);
  });
});

describe('checkBalanceAt', () => {
  it('compares the balance at an instant with the one expected', () => {
    expect(checkBalanceAt({ accountId: A, label: 'now', body: { balance: '85.00', at: '2026-12-02T11:00:00Z' }, wantMinor: 8_500n })).toEqual([]);
    expect(checkBalanceAt({ accountId: A, label: 'before the first operation', body: { balance: '0.00', at: '2026-12-02T09:00:00Z' }, wantMinor: 10_000n })[0]!.detail).toBe(
      `account ${A}: at before the first operation (2026-12-02T09:00:00Z) 0.00, expected 100.00`,
    );
  });
});

describe('checkLedgerVerification', () => {
  it('passes unbroken pages over every account and reports a break or too few accounts', () => {
    expect(checkLedgerVerification([{ ok: true, accountsChecked: 15, entriesChecked: 900 }, { ok: true, accountsChecked: 6, entriesChecked: 10 }], 20)).toEqual([]);
    const broken = checkLedgerVerification([{ ok: false, accountsChecked: 21, entriesChecked: 5, firstBreak: { accountId: A, entryId: '7', reason: 'hash mismatch' } }], 20);
    expect(broken.map((v) => v.detail)).toEqual([`account ${A}: entry 7: hash mismatch`]);
    expect(checkLedgerVerification([{ ok: true, accountsChecked: 3, entriesChecked: 5 }], 20).map((v) => v.detail)).toEqual(['3 accounts checked, the run has 20']);
  });
});
