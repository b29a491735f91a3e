// Pure unit tests of the chaos suite's model and checker: a checker that
// passes everything proves nothing, so each invariant is shown to catch its fault.
import { describe, expect, it } from 'vitest';
import {
  checkAuthAnswers,
  checkHistories,
  checkInvariants,
  checkSqlFacts,
  classifyAnswer,
  classifyHoldAnswer,
  expectedBalances,
  formatMinor,
  parseMinor,
  recoveryTimes,
  type HistoryItem,
  type Op,
} from '../../scripts/chaos/model.mjs';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'aaaaaaaa-0000-4000-8000-000000000002';
const T1 = 'bbbbbbbb-0000-4000-8000-000000000001';
const U1 = 'cccccccc-0000-4000-8000-000000000001';

const initial = () =>
  new Map([
    [A, 10_000n],
    [B, 10_000n],
  ]);
const transfer = (over: Partial<Op> = {}): Op => ({
  kind: 'transfer',
  key: 't1',
  from: A,
  to: B,
  amountMinor: 2_500n,
  outcome: 'completed',
  resultId: T1,
  answers: [{ status: 201, id: T1, atMs: 1 }],
  ...over,
});
const topUp = (over: Partial<Op> = {}): Op => ({
  kind: 'topup',
  key: 'u1',
  accountId: A,
  amountMinor: 1_000n,
  outcome: 'completed',
  resultId: U1,
  answers: [{ status: 201, id: U1, atMs: 2 }],
  ...over,
});
const histories = (): Map<string, HistoryItem[]> =>
  new Map([
    [
      A,
      [
        { id: 'e1', type: 'transfer_out', amount: '25.00', transferId: T1 },
        { id: 'e2', type: 'topup', amount: '10.00', topUpId: U1 },
      ],
    ],
    [B, [{ id: 'e3', type: 'transfer_in', amount: '25.00', transferId: T1 }]],
  ]);

describe('money parsing', () => {
  it('parses and formats exact minor units', () => {
    expect(parseMinor('10.5')).toBe(1050n);
    expect(parseMinor('0.07')).toBe(7n);
    expect(formatMinor(-1050n)).toBe('-10.50');
    expect(() => parseMinor('1e3')).toThrow();
  });
});

describe('classifyAnswer', () => {
  it('treats 201 as completed, business refusals as rejected and 5xx/409/no answer as unknown', () => {
    expect(classifyAnswer('transfer', { status: 201 })).toBe('completed');
    expect(classifyAnswer('transfer', { status: 422, body: { code: 'INSUFFICIENT_FUNDS' } })).toBe('rejected');
    expect(classifyAnswer('transfer', { status: 409 })).toBe('unknown');
    expect(classifyAnswer('transfer', { status: 504 })).toBe('unknown');
    expect(classifyAnswer('transfer', { error: 'ECONNREFUSED' })).toBe('unknown');
    expect(classifyAnswer('topup', { status: 402 })).toBe('rejected');
    expect(classifyAnswer('topup', { status: 502, body: { charged: false } })).toBe('rejected');
    expect(classifyAnswer('topup', { status: 503, body: { code: 'TOP_UP_PENDING', charged: true } })).toBe('unknown');
  });

  it('treats a transfer refused by the sender\'s spending limit (422 LIMIT_EXCEEDED) as a refusal: nothing moved', () => {
    expect(classifyAnswer('transfer', { status: 422, body: { code: 'LIMIT_EXCEEDED', limit: 'daily', remaining: '3.00' } })).toBe('rejected');
    expect(classifyAnswer('reversal', { status: 422, body: { code: 'LIMIT_EXCEEDED' } })).toBe('unexpected');
    const refused = transfer({ outcome: 'rejected', resultId: undefined, answers: [{ status: 422, code: 'LIMIT_EXCEEDED', atMs: 3 }] });
    expect(expectedBalances(initial(), [refused])).toEqual(initial());
  });

  it('flags answers the workload never provokes', () => {
    expect(classifyAnswer('transfer', { status: 422, body: { code: 'IDEMPOTENCY_KEY_REUSED' } })).toBe('unexpected');
    expect(classifyAnswer('transfer', { status: 404 })).toBe('unexpected');
    expect(classifyAnswer('topup', { status: 400 })).toBe('unexpected');
  });
});

describe('checkInvariants', () => {
  it('passes a run whose balances and histories match the acknowledged answers', () => {
    const ops = [transfer(), topUp(), transfer({ key: 't2', outcome: 'rejected', resultId: undefined, answers: [{ status: 422, atMs: 3 }] })];
    const observed = expectedBalances(initial(), ops);
    expect(observed.get(A)).toBe(8_500n);
    expect(checkInvariants({ initialMinor: initial(), ops, observedMinor: observed, histories: histories() })).toEqual([]);
  });

  it('catches a movement that was not acknowledged, and a broken total', () => {
    const ops = [transfer(), topUp()];
    const observed = expectedBalances(initial(), ops);
    observed.set(B, observed.get(B)! + 500n);
    const invariants = checkInvariants({ initialMinor: initial(), ops, observedMinor: observed }).map((x) => x.invariant);
    expect(invariants).toEqual(['balance equals model', 'money conserved']);
  });

  it('catches a negative balance, an unanswered request and a replay with another id', () => {
    const ops = [
      transfer({ amountMinor: 20_000n }),
      transfer({ key: 't3', outcome: 'unknown', resultId: undefined, answers: [{ status: 503, atMs: 5 }] }),
      topUp({ answers: [{ status: 201, id: U1, atMs: 1 }, { status: 201, id: T1, atMs: 2 }] }),
    ];
    const observed = expectedBalances(initial(), ops);
    const invariants = checkInvariants({ initialMinor: initial(), ops, observedMinor: observed }).map((x) => x.invariant);
    expect(invariants).toContain('no balance below -(overdraft + forced reversals out)');
    expect(invariants).toContain('every request answered');
    expect(invariants).toContain('replays count once');
  });
});

describe('checkHistories', () => {
  it('catches a missing, a duplicated and an unacknowledged history entry', () => {
    const ops = [transfer(), topUp()];
    const h = histories();
    h.get(B)!.length = 0; // transfer_in missing
    h.get(A)!.push({ id: 'e9', type: 'topup', amount: '10.00', topUpId: U1 }); // duplicate
    h.get(A)!.push({ id: 'e10', type: 'transfer_out', amount: '1.00', transferId: 'dddddddd-0000-4000-8000-000000000001' });
    const details = checkHistories(ops, h).map((x) => x.detail);
    expect(details.some((d) => d.includes(`transfer_in:${T1}`) && d.includes('0 times'))).toBe(true);
    expect(details.some((d) => d.includes(`topup:${U1}`) && d.includes('2 times'))).toBe(true);
    expect(details.some((d) => d.includes('no acknowledged request made'))).toBe(true);
  });
});

describe('checkSqlFacts', () => {
  it('catches a pending top-up, a card charged for a failed top-up and a ledger mismatch', () => {
    const ops = [topUp({ outcome: 'rejected', answers: [{ status: 502, atMs: 1 }] })];
    const violations = checkSqlFacts(
      {
        ledgerMismatches: [{ accountId: A, balanceMinor: 100n, ledgerMinor: 90n }],
        totalAllAccountsMinor: 0n,
        unfinishedTopUps: [{ id: U1, state: 'CHARGED', idempotencyKey: 'u2' }],
        outboxRows: 0,
        topUps: [{ id: U1, state: 'COMPLETED', idempotencyKey: 'u1', netChargedMinor: 1_000n, amountMinor: 1_000n }],
      },
      ops,
    ).map((x) => x.invariant);
    expect(violations).toEqual(['ledger sums to balance', 'nothing left pending', 'refused top-up moved nothing']);
  });

  it('catches a refunded top-up whose deposit also stayed (the card left charged is the other half)', () => {
    const violations = checkSqlFacts(
      { topUps: [{ id: U1, state: 'REFUNDED', idempotencyKey: 'u1', netChargedMinor: 1_000n, amountMinor: 1_000n }] },
      [],
    );
    expect(violations.map((x) => x.invariant)).toEqual(['card charged only for completed top-ups']);
  });
});

describe('checkSqlFacts: deposits', () => {
  it('catches a deposit kept in the bank for a top-up the journal refunded (committed deposit also refunded)', () => {
    const violations = checkSqlFacts({ depositMismatches: [{ topUpId: U1, state: 'REFUNDED', idempotencyKey: 'u1', deposits: 1 }] }, []);
    expect(violations.map((x) => x.invariant)).toEqual(['one deposit per completed top-up, none for others']);
  });
});

describe('recoveryTimes', () => {
  it('measures from the fault to the first success of the affected kind sent after it', () => {
    const faults = [{ name: 'kill bank', startedAtMs: 1_000, affects: 'transfer' }];
    const answers = [
      { kind: 'transfer', sentAtMs: 900, answeredAtMs: 1_100, ok: true },
      { kind: 'topup', sentAtMs: 1_200, answeredAtMs: 1_300, ok: true },
      { kind: 'transfer', sentAtMs: 1_500, answeredAtMs: 2_000, ok: false },
      { kind: 'transfer', sentAtMs: 2_100, answeredAtMs: 3_400, ok: true },
    ];
    expect(recoveryTimes(faults, answers)[0]!.recoveryMs).toBe(2_400);
  });
});

describe('authentication answers', () => {
  it('classifies a 401 or 403 to the owner\'s token as unexpected, never as a retry or a pass', () => {
    expect(classifyAnswer('transfer', { status: 401, body: { type: 'unauthenticated' } })).toBe('unexpected');
    expect(classifyAnswer('topup', { status: 401 })).toBe('unexpected');
    expect(classifyAnswer('transfer', { status: 403 })).toBe('unexpected');
    // The issuer being unreachable is the system's transient state, not the client's fault.
    expect(classifyAnswer('transfer', { status: 503 })).toBe('unknown');
  });

  it('reports every refused request (reads too, even when a retry later passed) and ignores token-endpoint answers', () => {
    const violations = checkAuthAnswers(
      [
        { kind: 'transfer', status: 201, sentAtMs: 1_000 },
        { kind: 'balance', status: 401, sentAtMs: 3_000 },
        { kind: 'balance', status: 401, sentAtMs: 2_500 },
        { kind: 'history', status: 403, sentAtMs: 4_000 },
        { kind: 'balance', status: 200, sentAtMs: 5_000 },
        { kind: 'login', status: 401, sentAtMs: 6_000 },
      ],
      1_000,
    );
    expect(violations).toEqual([
      { invariant: 'valid tokens accepted (no 401/403 to the owner)', detail: '2 × balance 401, first at 1.5 s' },
      { invariant: 'valid tokens accepted (no 401/403 to the owner)', detail: '1 × history 403, first at 3.0 s' },
    ]);
    expect(checkAuthAnswers([{ kind: 'transfer', status: 201, sentAtMs: 1 }])).toEqual([]);
  });
});

describe('checkSqlFacts: ledger hash chain', () => {
  it('reports every chain break the database check found, with account, entry and reason', () => {
    const violations = checkSqlFacts({ chainBreaks: [{ accountId: A, entryId: '42', reason: 'previous hash mismatch' }] }, []);
    expect(violations).toEqual([{ invariant: 'ledger hash chain intact', detail: `account ${A}: entry 42: previous hash mismatch` }]);
  });
});

describe('holds (ADR 0015)', () => {
  const H1 = 'dddddddd-0000-4000-8000-000000000001';
  const hold = (over: Partial<Op> = {}): Op => ({
    kind: 'hold',
    key: 'h1',
    from: A,
    to: B,
    amountMinor: 1_000n,
    outcome: 'completed',
    holdId: H1,
    holdStatus: 'captured',
    capturedMinor: 600n,
    resultId: T1,
    answers: [{ status: 201, id: H1, atMs: 1 }, { status: 200, atMs: 2 }],
    ...over,
  });
  const item = (id: string, type: string, amount: string, links: Partial<HistoryItem> = {}): HistoryItem => ({ id, type, amount, ...links });

  it('classifies hold steps: 201/200 definitive, refusals rejected, an expiry refused unexecuted rejected, 409 hold-not-pending unexpected', () => {
    expect(classifyHoldAnswer('create', { status: 201 })).toBe('completed');
    expect(classifyHoldAnswer('create', { status: 422, body: { code: 'INSUFFICIENT_FUNDS' } })).toBe('rejected');
    expect(classifyHoldAnswer('create', { status: 400, body: { errors: [{ field: 'expires_at', message: 'must be in the future' }] } })).toBe('rejected');
    expect(classifyHoldAnswer('create', { status: 422, body: { code: 'INVALID_FIELD_VALUE', errors: [{ field: 'expires_at', message: 'must be in the future' }] } })).toBe('rejected');
    expect(classifyHoldAnswer('create', { status: 409 })).toBe('unknown');
    expect(classifyHoldAnswer('capture', { status: 200 })).toBe('completed');
    expect(classifyHoldAnswer('capture', { status: 503 })).toBe('unknown');
    expect(classifyHoldAnswer('void', { status: 409, body: { code: 'HOLD_NOT_PENDING' } })).toBe('unexpected');
  });

  it('a captured hold moves the captured amount; a released one nothing', () => {
    const balances = expectedBalances(initial(), [hold(), hold({ key: 'h2', holdId: 'x', holdStatus: 'voided', capturedMinor: 0n, resultId: 'x' })]);
    expect(balances.get(A)).toBe(9_400n);
    expect(balances.get(B)).toBe(10_600n);
  });

  it('expects hold_created, hold_captured and the capture transfer in both histories, with their amounts', () => {
    const histories = new Map([
      [A, [item('1', 'hold_created', '10.00', { holdId: H1 }), item('2', 'hold_captured', '6.00', { holdId: H1, transferId: T1 }), item('3', 'transfer_out', '6.00', { transferId: T1 })]],
      [B, [item('4', 'hold_created', '10.00', { holdId: H1 }), item('5', 'hold_captured', '6.00', { holdId: H1, transferId: T1 }), item('6', 'transfer_in', '6.00', { transferId: T1 })]],
    ]);
    expect(checkHistories([hold()], histories)).toEqual([]);
    histories.get(A)!.splice(1, 1);
    expect(checkHistories([hold()], histories).map((v) => v.detail)).toEqual([expect.stringContaining(`hold_captured:${H1}`)]);
  });

  it('catches pending parts that disagree with the pending holds, a hold left pending and a capture without its transfer', () => {
    const facts = { holds: { pendingOutMinor: 500n, pendingInMinor: 400n, heldMinor: 500n, pendingCount: 1, captureMismatches: 1 } };
    expect(checkSqlFacts(facts, []).map((v) => v.invariant)).toEqual([
      'pending parts equal pending holds',
      'every hold finalized (captured, voided or expired)',
      'one transfer per captured hold, of the captured amount',
    ]);
  });
});

describe('reversals in the model (ADR 0017)', () => {
  const R1 = 'dddddddd-0000-4000-8000-000000000001';
  const reversal = (over: Partial<Op> = {}): Op => ({
    kind: 'reversal',
    key: 'r1',
    from: B,
    to: A,
    amountMinor: 1_000n,
    outcome: 'completed',
    resultId: R1,
    answers: [{ status: 201, id: R1, atMs: 3 }],
    ...over,
  });

  it('classifies a reversal refused for the recipient\'s funds as rejected, anything else definitive as unexpected', () => {
    expect(classifyAnswer('reversal', { status: 201, body: { id: R1 } })).toBe('completed');
    expect(classifyAnswer('reversal', { status: 422, body: { code: 'REVERSAL_WOULD_OVERDRAW' } })).toBe('rejected');
    expect(classifyAnswer('reversal', { status: 422, body: { code: 'REVERSAL_EXCEEDS_REMAINING' } })).toBe('unexpected');
    expect(classifyAnswer('reversal', { status: 404, body: { code: 'TRANSFER_NOT_FOUND' } })).toBe('unexpected');
    expect(classifyAnswer('reversal', { status: 503 })).toBe('unknown');
    expect(classifyAnswer('reversal', { status: 409 })).toBe('unknown');
  });

  it('moves a completed reversal back from the recipient to the sender, and a rejected one moves nothing', () => {
    expect(expectedBalances(initial(), [transfer(), reversal()])).toEqual(new Map([[A, 8_500n], [B, 11_500n]]));
    expect(expectedBalances(initial(), [transfer(), reversal({ outcome: 'rejected', resultId: undefined })])).toEqual(new Map([[A, 7_500n], [B, 12_500n]]));
  });

  it('expects reversal_out at the recipient and reversal_in at the sender, keyed by the reversal', () => {
    const h = histories();
    h.get(A)!.push({ id: 'e4', type: 'reversal_in', amount: '10.00', reversalId: R1 });
    h.get(B)!.push({ id: 'e5', type: 'reversal_out', amount: '10.00', reversalId: R1 });
    expect(checkHistories([transfer(), topUp(), reversal()], h)).toEqual([]);
    h.get(B)!.pop();
    expect(checkHistories([transfer(), topUp(), reversal()], h).map((v) => v.detail)).toEqual([`account ${B}: reversal_out:${R1} (key=r1) appears 0 times`]);
  });
});

describe('refunds of top-ups to the card in the model (ADR 0018)', () => {
  const F1 = 'eeeeeeee-0000-4000-8000-000000000001';
  const refund = (over: Partial<Op> = {}): Op => ({
    kind: 'refund',
    key: 'f1',
    accountId: A,
    topUpId: U1,
    amountMinor: 400n,
    outcome: 'completed',
    refundStatus: 'succeeded',
    resultId: F1,
    answers: [{ status: 201, id: F1, atMs: 4 }],
    ...over,
  });
  const declined = { refundStatus: 'failed', failureReason: 'CARD_REFUND_DECLINED' } as const;

  it('classifies a refund: 201 final, 202 pending retried with the same key, insufficient funds refused, anything else definitive unexpected', () => {
    expect(classifyAnswer('refund', { status: 201, body: { id: F1, status: 'succeeded' } })).toBe('completed');
    expect(classifyAnswer('refund', { status: 201, body: { id: F1, status: 'failed' } })).toBe('completed');
    expect(classifyAnswer('refund', { status: 202, body: { id: F1, status: 'pending' } })).toBe('unknown');
    expect(classifyAnswer('refund', { status: 422, body: { code: 'INSUFFICIENT_FUNDS' } })).toBe('rejected');
    expect(classifyAnswer('refund', { status: 422, body: { code: 'REFUND_EXCEEDS_DEPOSIT' } })).toBe('unexpected');
    expect(classifyAnswer('refund', { status: 422, body: { code: 'TOP_UP_NOT_REFUNDABLE' } })).toBe('unexpected');
    expect(classifyAnswer('refund', { status: 404, body: { code: 'TOP_UP_NOT_FOUND' } })).toBe('unexpected');
    expect(classifyAnswer('refund', { status: 503 })).toBe('unknown');
    expect(classifyAnswer('refund', {})).toBe('unknown');
  });

  it('takes a succeeded refund out of the account, and a failed or refused one leaves it as it was', () => {
    expect(expectedBalances(initial(), [topUp(), refund()]).get(A)).toBe(10_600n);
    expect(expectedBalances(initial(), [topUp(), refund(declined)]).get(A)).toBe(11_000n);
    expect(expectedBalances(initial(), [topUp(), refund({ refundStatus: 'failed', failureReason: 'REFUND_NOT_APPLIED' })]).get(A)).toBe(11_000n);
    expect(expectedBalances(initial(), [topUp(), refund({ outcome: 'rejected', refundStatus: undefined, resultId: undefined })]).get(A)).toBe(11_000n);
  });

  it('counts a succeeded refund out of the money conserved (initial + top-ups - refunds)', () => {
    const ops = [topUp(), refund()];
    const observed = new Map([[A, 10_600n], [B, 10_000n]]);
    expect(checkInvariants({ initialMinor: initial(), ops, observedMinor: observed })).toEqual([]);
    const kept = new Map([[A, 11_000n], [B, 10_000n]]);
    expect(checkInvariants({ initialMinor: initial(), ops, observedMinor: kept }).map((v) => v.invariant)).toEqual(['balance equals model', 'money conserved']);
  });

  it('expects refund once for a succeeded refund, refund and refund_cancelled for a declined one, nothing for one never debited (matched on the top-up: the events carry the bank refund id)', () => {
    const withRefund = (...items: HistoryItem[]) => {
      const h = histories();
      h.get(A)!.push(...items);
      return h;
    };
    const out = { id: 'e6', type: 'refund', amount: '4.00', refundId: 'ffffffff-0000-4000-8000-000000000001', topUpId: U1 };
    const back = { id: 'e7', type: 'refund_cancelled', amount: '4.00', refundId: 'ffffffff-0000-4000-8000-000000000001', topUpId: U1 };
    expect(checkHistories([transfer(), topUp(), refund()], withRefund(out))).toEqual([]);
    expect(checkHistories([transfer(), topUp(), refund(declined)], withRefund(out, back))).toEqual([]);
    expect(checkHistories([transfer(), topUp(), refund({ refundStatus: 'failed', failureReason: 'REFUND_NOT_APPLIED' })], histories())).toEqual([]);
    expect(checkHistories([transfer(), topUp(), refund(declined)], withRefund(out)).map((v) => v.detail)).toEqual([
      `account ${A}: refund_cancelled:${U1} (key=f1) appears 0 times`,
    ]);
    expect(checkHistories([transfer(), topUp(), refund()], withRefund(out, { ...out, id: 'e8' })).map((v) => v.detail)).toEqual([
      `account ${A}: refund:${U1} (key=f1) appears 2 times`,
    ]);
    expect(checkHistories([transfer(), topUp(), refund()], withRefund({ ...out, amount: '5.00' })).map((v) => v.detail)).toEqual([
      `account ${A}: refund:${U1} amount 5.00, acknowledged 4.00`,
    ]);
  });

  it('expects the card charged for a completed top-up less its succeeded refunds, and no refund left unfinished', () => {
    const row = { id: U1, state: 'COMPLETED', idempotencyKey: 'u1', amountMinor: 1_000n };
    expect(checkSqlFacts({ topUps: [{ ...row, netChargedMinor: 600n }] }, [topUp(), refund()])).toEqual([]);
    expect(checkSqlFacts({ topUps: [{ ...row, netChargedMinor: 1_000n }] }, [topUp(), refund(declined)])).toEqual([]);
    expect(checkSqlFacts({ topUps: [{ ...row, netChargedMinor: 1_000n }] }, [topUp(), refund()]).map((v) => v.invariant)).toEqual([
      'card charged only for completed top-ups',
    ]);
    expect(checkSqlFacts({ unfinishedRefunds: [{ id: F1, state: 'DEBITED', idempotencyKey: 'f1' }] }, []).map((v) => v.detail)).toEqual([`refund ${F1} key=f1 still DEBITED`]);
  });
});
