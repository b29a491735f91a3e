// Types for scripts/chaos/model.mjs, so its unit tests are type-checked.
export interface Answer {
  status?: number;
  code?: string;
  /** LIMIT_EXCEEDED: which limit (daily, monthly, overdraft). */
  limit?: string;
  id?: string;
  error?: string;
  atMs: number;
}
export type Outcome = 'completed' | 'rejected' | 'unknown' | 'unexpected';
export interface Op {
  kind: 'transfer' | 'topup' | 'hold' | 'reversal' | 'refund';
  key: string;
  amountMinor: bigint;
  from?: string;
  to?: string;
  accountId?: string;
  outcome: Outcome;
  resultId?: string;
  answers: Answer[];
  /** Holds: the hold, its final state and what the capture posted (0 when released). */
  holdId?: string;
  holdStatus?: 'captured' | 'voided' | 'expired';
  capturedMinor?: bigint;
  /** Refunds (ADR 0018): the refunded top-up and how the refund ended. */
  topUpId?: string;
  refundStatus?: 'succeeded' | 'failed';
  failureReason?: string;
  /** Reversals (ADR 0017): the original transfer; force = sent by the admin with `force: true`; forced and initiatedBy = as answered. */
  transferId?: string;
  force?: boolean;
  forced?: boolean;
  initiatedBy?: string;
}
export interface HistoryItem {
  id: string;
  type: string;
  amount: string;
  transferId?: string;
  topUpId?: string;
  holdId?: string;
  reversalId?: string;
  refundId?: string;
  /** reversal_*: true when an admin forced it. */
  forced?: boolean;
}
export interface SqlFacts {
  ledgerMismatches?: { accountId: string; balanceMinor: bigint; ledgerMinor: bigint }[];
  totalAllAccountsMinor?: bigint;
  unfinishedTopUps?: { id: string; state: string; idempotencyKey: string }[];
  outboxRows?: number;
  topUps?: { id: string; state: string; idempotencyKey: string; netChargedMinor: bigint; amountMinor: bigint }[];
  depositMismatches?: { topUpId: string; state: string; idempotencyKey: string; deposits: number }[];
  chainBreaks?: { accountId: string; entryId: string; reason: string }[];
  holds?: { pendingOutMinor: bigint; pendingInMinor: bigint; heldMinor: bigint; pendingCount: number; captureMismatches: number };
  unfinishedRefunds?: { id: string; state: string; idempotencyKey: string }[];
}
export interface Violation {
  invariant: string;
  detail: string;
}
export declare function parseMinor(amount: string): bigint;
export declare function formatMinor(minor: bigint): string;
export declare function classifyAnswer(
  kind: 'transfer' | 'topup' | 'reversal' | 'refund',
  // The parsed problem+json or resource body.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  answer: { status?: number; body?: any; error?: string },
): Outcome;
export declare function classifyHoldAnswer(
  step: 'create' | 'capture' | 'void' | 'read',
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  answer: { status?: number; body?: any; error?: string },
): Outcome;
export declare function expectedBalances(initialMinor: Map<string, bigint>, ops: Iterable<Op>): Map<string, bigint>;
export declare function historyKey(item: HistoryItem): string | undefined;
export declare function expectedHistories(ops: Iterable<Op>): Map<string, Map<string, { op: Op; type: string; amountMinor?: bigint }>>;
export declare function checkInvariants(input: {
  initialMinor: Map<string, bigint>;
  ops: Op[];
  observedMinor: Map<string, bigint>;
  histories?: Map<string, HistoryItem[]>;
  sql?: SqlFacts;
  overdraftMinor?: Map<string, bigint>;
}): Violation[];
export declare function balanceFloors(overdraftMinor: Map<string, bigint>, ops: Iterable<Op>): Map<string, bigint>;
export declare function checkHistories(ops: Op[], histories: Map<string, HistoryItem[]>): Violation[];
export declare function checkSqlFacts(sql: SqlFacts, ops: Op[]): Violation[];
export declare function checkAuthAnswers(
  answers: { kind: string; status?: number | string; sentAtMs: number }[],
  startMs?: number,
): Violation[];
export declare function recoveryTimes<F extends { name: string; startedAtMs: number; affects: string }>(
  faults: F[],
  answers: { kind: string; sentAtMs: number; answeredAtMs: number; ok: boolean }[],
): (F & { recoveryMs: number | undefined })[];
export type TlsProblemKind = 'caller refused' | 'TLS handshake refused';
export declare function tlsProblemOf(line: string): TlsProblemKind | undefined;
export declare function checkTlsProblems(problems: { service: string; kind: string; line: string }[]): Violation[];
export declare function refundedMinor(ops: Op[]): bigint;
