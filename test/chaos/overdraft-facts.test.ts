// Pure unit tests of the chaos run's overdraft and forced-reversal pieces
// (scripts/chaos/overdraft-facts.mjs, the floors and history marks in model.mjs,
// the overdraft refusals in limit-facts.mjs): each check is shown to catch its fault.
import { describe, expect, it } from 'vitest';
import { checkLimitRefusals, LIMIT_PLANS } from '../../scripts/chaos/limit-facts.mjs';
import { balanceFloors, checkHistories, checkInvariants, expectedBalances, type HistoryItem, type Op } from '../../scripts/chaos/model.mjs';
import {
  checkOverdraftFacts,
  createForcedReversalPicker,
  needsForce,
  OVERDRAFT_PLANS,
  planOverdrafts,
  type OverdraftAccountFacts,
  type OverdraftFacts,
} from '../../scripts/chaos/overdraft-facts.mjs';

const A = 'aaaaaaaa-0000-4000-8000-000000000001';
const B = 'aaaaaaaa-0000-4000-8000-000000000002';
const T1 = 'bbbbbbbb-0000-4000-8000-000000000001';
const R1 = 'dddddddd-0000-4000-8000-000000000001';
const ADMIN = 'chaos-admin';

const transfer = (over: Partial<Op> = {}): Op => ({
  kind: 'transfer',
  key: 't1',
  from: B,
  to: A,
  amountMinor: 2_000n,
  outcome: 'completed',
  resultId: T1,
  answers: [{ status: 201, id: T1, atMs: 1 }],
  ...over,
});
/** The admin's forced reversal of T1: A (recipient) pays 20.00 back to B. */
const forcedReversal = (over: Partial<Op> = {}): Op => ({
  kind: 'reversal',
  key: 'fr1',
  transferId: T1,
  from: A,
  to: B,
  amountMinor: 2_000n,
  force: true,
  forced: true,
  initiatedBy: ADMIN,
  outcome: 'completed',
  resultId: R1,
  answers: [{ status: 201, id: R1, atMs: 2 }],
  ...over,
});
const account = (over: Partial<OverdraftAccountFacts> = {}): OverdraftAccountFacts => ({
  accountId: A,
  balanceMinor: -6_000n,
  pendingOutMinor: 0n,
  overdraftMinor: 5_000n,
  forcedDebtMinor: 1_000n,
  lowestMinor: -6_000n,
  entriesBelowZero: 3,
  ...over,
});
const facts = (over: Partial<OverdraftFacts> = {}): OverdraftFacts => ({
  accounts: [account(), account({ accountId: B, balanceMinor: 4_000n, overdraftMinor: 0n, forcedDebtMinor: 0n, lowestMinor: 0n, entriesBelowZero: 0 })],
  forced: [{ id: R1, transferId: T1, fromAccountId: A, amountMinor: 2_000n, forcedDebtMinor: 1_000n, initiatedBy: ADMIN, idempotencyKey: 'fr1' }],
  ...over,
});
const plans = new Map([[A, 5_000n]]);
const invariantsOf = (f: OverdraftFacts, ops: Op[] = [transfer(), forcedReversal()]) => checkOverdraftFacts(f, ops, plans).violations.map((v) => v.invariant);

describe('planOverdrafts', () => {
  it('gives the accounts after the spending-limit plans an overdraft each, and leaves two accounts with neither', () => {
    const accounts = Array.from({ length: 20 }, (_, i) => `acc-${i}`);
    const planned = planOverdrafts(accounts);
    expect([...planned.keys()]).toEqual(OVERDRAFT_PLANS.map((_, i) => `acc-${LIMIT_PLANS.length + i}`));
    expect(planned.get(`acc-${LIMIT_PLANS.length}`)).toBe(5_000n);
    expect(planOverdrafts(accounts.slice(0, LIMIT_PLANS.length + 2)).size).toBe(0);
  });
});

describe('createForcedReversalPicker', () => {
  it('hands out a transfer whose owner reversal was refused first, then the oldest transfer into an overdraft account, each once, within the bound', () => {
    const picker = createForcedReversalPicker({ overdraftAccounts: [A], max: 3 });
    const intoA1 = transfer({ key: 'a1' });
    const intoA2 = transfer({ key: 'a2' });
    const intoB = transfer({ key: 'b1', from: A, to: B });
    const refusedOne = transfer({ key: 'r1', from: A, to: B });
    picker.saw(intoA1);
    picker.saw(intoA2);
    picker.saw(intoB);
    picker.saw(transfer({ key: 'x', outcome: 'rejected' }));
    // Reversed by its owner (completed): not a candidate any more.
    picker.saw(transfer({ key: 'reversed' }), forcedReversal({ force: undefined, forced: false }));
    picker.saw(refusedOne, forcedReversal({ force: undefined, outcome: 'rejected', answers: [{ status: 422, code: 'REVERSAL_WOULD_OVERDRAW', atMs: 1 }] }));
    expect([picker.pick()?.key, picker.pick()?.key, picker.pick()?.key, picker.pick()]).toEqual(['r1', 'a1', 'a2', undefined]);
    expect(picker.picked).toBe(3);
  });

  it('takes a put-back transfer again last in line, without counting it against the bound', () => {
    const picker = createForcedReversalPicker({ overdraftAccounts: [A], max: 2 });
    picker.saw(transfer({ key: 'a1' }));
    picker.saw(transfer({ key: 'a2' }));
    const first = picker.pick()!;
    picker.putBack(first);
    expect(picker.picked).toBe(0);
    expect([picker.pick()?.key, picker.pick()?.key, picker.pick()]).toEqual(['a2', 'a1', undefined]);
  });

  it('stops at the run bound even with candidates left', () => {
    const picker = createForcedReversalPicker({ overdraftAccounts: [A], max: 1 });
    picker.saw(transfer({ key: 'a1' }));
    picker.saw(transfer({ key: 'a2' }));
    expect(picker.pick()?.key).toBe('a1');
    expect(picker.pick()).toBeUndefined();
  });
});

describe('needsForce', () => {
  it('is true only when available + overdraft is short of the amount', () => {
    expect(needsForce({ available: '-40.00', overdraftLimit: '50.00' }, 1_001n)).toBe(true);
    expect(needsForce({ available: '-40.00', overdraftLimit: '50.00' }, 1_000n)).toBe(false);
    expect(needsForce({ available: '5.00', overdraftLimit: '0.00' }, 501n)).toBe(true);
    expect(needsForce({ available: '25.00', overdraftLimit: '0.00' }, 2_000n)).toBe(false);
    expect(needsForce(undefined, 1n)).toBe(false);
  });
});

describe('checkOverdraftFacts', () => {
  it('passes an account below zero within its overdraft plus the debt its forced reversal created, audited', () => {
    const result = checkOverdraftFacts(facts(), [transfer(), forcedReversal()], plans);
    expect(result.violations).toEqual([]);
    expect(result.counts).toMatchObject({ overdraftAccounts: 1, entriesBelowZero: 3, forced: 1, forcedAsked: 1, forcedDebtMinor: 1_000n });
  });

  it('catches an overdraft other than the one set', () => {
    expect(invariantsOf(facts({ accounts: [account({ overdraftMinor: 3_000n, forcedDebtMinor: 3_000n })] }))).toContain('overdraft set as asked');
  });

  it('catches available below -(overdraft + forced debt), and debt that is not what the account owes beyond its overdraft', () => {
    const inv = invariantsOf(facts({ accounts: [account({ balanceMinor: -6_500n })] }));
    expect(inv).toContain('available >= -(overdraft + forced debt)');
    expect(inv).toContain('forced debt = what the account is below its overdraft');
    // Pending holds count: available = balance - pending_out.
    expect(invariantsOf(facts({ accounts: [account({ balanceMinor: -5_500n, pendingOutMinor: 500n, forcedDebtMinor: 0n })] }))).toContain(
      'forced debt = what the account is below its overdraft',
    );
  });

  it('catches forced debt without a forced reversal, and a ledger balance below -overdraft where nothing was forced', () => {
    const inv = invariantsOf(facts({ forced: [] }), [transfer()]);
    expect(inv).toContain('forced debt only from forced reversals');
    expect(inv).toContain('no balance below -overdraft except by forced reversal debt');
    const noDebt = facts({ forced: [], accounts: [account({ balanceMinor: -5_000n, forcedDebtMinor: 0n, lowestMinor: -5_001n })] });
    expect(invariantsOf(noDebt, [transfer()])).toEqual(['no balance below -overdraft except by forced reversal debt']);
  });

  it('catches a forced reversal the bank did not audit, audited under another initiator, or forced without the admin asking', () => {
    expect(invariantsOf(facts({ forced: [] }))).toContain('every forced reversal audited');
    const other = facts({ forced: [{ ...facts().forced[0]!, initiatedBy: 'someone-else' }] });
    expect(invariantsOf(other)).toContain('every forced reversal audited');
    expect(invariantsOf(facts(), [transfer()])).toContain("only the admin's forced reversals are forced");
  });

  it("catches an admin's forced reversal refused for funds", () => {
    const refused = forcedReversal({ outcome: 'rejected', forced: undefined, resultId: undefined, answers: [{ status: 422, code: 'REVERSAL_WOULD_OVERDRAW', atMs: 2 }] });
    expect(invariantsOf(facts({ forced: [] }), [transfer(), refused])).toContain('an admin force overrides the funds check');
  });
});

describe('overdraft in the model', () => {
  const initial = () => new Map([[A, 1_000n], [B, 1_000n]]);

  it('lets an overdraft account go down to -overdraft, and a forced reversal past it by at most its amount', () => {
    expect(balanceFloors(plans, [forcedReversal()])).toEqual(new Map([[A, -7_000n]]));
    const spent = transfer({ from: A, to: B, amountMinor: 6_000n });
    const ops = [spent];
    expect(checkInvariants({ initialMinor: initial(), ops, observedMinor: expectedBalances(initial(), ops), overdraftMinor: plans })).toEqual([]);
    const forced = [transfer({ from: A, to: B, amountMinor: 5_500n }), transfer({ key: 't2', resultId: 'bbbbbbbb-0000-4000-8000-000000000002', amountMinor: 2_000n }), forcedReversal({ transferId: 'bbbbbbbb-0000-4000-8000-000000000002' })];
    expect(checkInvariants({ initialMinor: initial(), ops: forced, observedMinor: expectedBalances(initial(), forced), overdraftMinor: plans })).toEqual([]);
  });

  it('catches a balance below -overdraft, and any negative balance on an account without one', () => {
    const ops = [transfer({ from: A, to: B, amountMinor: 6_100n })];
    const observed = expectedBalances(initial(), ops);
    const floor = 'no balance below -(overdraft + forced reversals out)';
    expect(checkInvariants({ initialMinor: initial(), ops, observedMinor: observed, overdraftMinor: plans }).map((v) => v.invariant)).toEqual([floor]);
    expect(checkInvariants({ initialMinor: initial(), ops, observedMinor: observed }).map((v) => v.invariant)).toEqual([floor]);
    // An ordinary (not forced) reversal gives no room below the overdraft.
    const ordinary = [...ops, forcedReversal({ from: B, to: A, force: undefined, forced: false, amountMinor: 100n })];
    expect(balanceFloors(plans, ordinary)).toEqual(new Map([[A, -5_000n]]));
  });

  it('expects forced: true on both reversal events of a forced reversal, and on no other', () => {
    const ops = [transfer(), forcedReversal()];
    const history = (forced: boolean | undefined): Map<string, HistoryItem[]> =>
      new Map([
        [A, [{ id: 'e1', type: 'transfer_in', amount: '20.00', transferId: T1 }, { id: 'e2', type: 'reversal_out', amount: '20.00', reversalId: R1, ...(forced === undefined ? {} : { forced }) }]],
        [B, [{ id: 'e3', type: 'transfer_out', amount: '20.00', transferId: T1 }, { id: 'e4', type: 'reversal_in', amount: '20.00', reversalId: R1, forced: true }]],
      ]);
    expect(checkHistories(ops, history(true))).toEqual([]);
    expect(checkHistories(ops, history(undefined)).map((v) => v.invariant)).toEqual(['forced reversals marked forced in both histories']);
    const ordinary = [transfer(), forcedReversal({ force: undefined, forced: false })];
    expect(checkHistories(ordinary, history(undefined)).map((v) => v.detail)).toEqual([expect.stringContaining(`account ${B}: reversal_in:${R1} forced=true`)]);
  });
});

describe('checkLimitRefusals with overdrafts', () => {
  const refused = (from: string, limit: string): Op => transfer({ key: `r-${from}-${limit}`, from, outcome: 'rejected', resultId: undefined, answers: [{ status: 422, code: 'LIMIT_EXCEEDED', limit, atMs: 1 }] });

  it('accepts limit=overdraft only from an account with an overdraft, and daily only from one with spending limits', () => {
    const ok = checkLimitRefusals([refused(A, 'overdraft'), refused(B, 'daily')], new Map([[B, {}]]), plans);
    expect(ok.violations).toEqual([]);
    const wrong = checkLimitRefusals([refused(B, 'overdraft'), refused(A, 'daily')], new Map([[B, {}]]), plans);
    expect(wrong.violations.map((v) => v.detail)).toEqual([expect.stringContaining(`from ${B} (limit overdraft`), expect.stringContaining(`from ${A} (limit daily`)]);
  });
});
