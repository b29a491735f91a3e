// The pure half of the chaos suite (no I/O): how a REST answer is classified,
// the bank model built from acknowledged answers, the invariant checker and
// the recovery-time computation. Unit-tested in test/chaos/model.test.ts.

/** "10.50" -> 1050n. Money stays in integer minor units; never a float. */
export function parseMinor(amount) {
  const match = /^(0|[1-9][0-9]{0,14})(?:\.([0-9]{1,2}))?$/.exec(String(amount));
  if (!match) throw new Error(`not a money amount: ${JSON.stringify(amount)}`);
  return BigInt(match[1]) * 100n + BigInt((match[2] ?? '').padEnd(2, '0'));
}

/** 1050n -> "10.50" (negative values keep their sign, for diffs). */
export function formatMinor(minor) {
  const sign = minor < 0n ? '-' : '';
  const abs = minor < 0n ? -minor : minor;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/**
 * What one answer means for the request that got it.
 * - completed: the movement happened (2xx; a replay is the same movement).
 * - rejected: a definitive business answer; nothing moved.
 * - unknown: no answer or a transient one (5xx, 409 in flight, 429, network): retry with the same key.
 * - unexpected: a definitive answer the workload never provokes (400, 404, key reused,
 *   401/403 to the owner's valid token): nothing should have moved, and the run
 *   fails because the system answered wrongly.
 * A refund's 201 is completed whether it succeeded or failed (the op's refundStatus says which).
 * @param {'transfer' | 'topup' | 'reversal' | 'refund'} kind
 * @param {{ status?: number, body?: any, error?: string }} answer status undefined = no HTTP answer
 * @returns {'completed' | 'rejected' | 'unknown' | 'unexpected'}
 */
export function classifyAnswer(kind, answer) {
  const { status, body } = answer;
  if (status === undefined) return 'unknown';
  if (status === 201) return 'completed';
  // The workload sends only its owners' unexpired tokens: a refusal is the system's
  // error (an unreachable issuer is 503), never retried into a silent pass.
  if (status === 401 || status === 403) return 'unexpected';
  if (status === 409 || status === 429) return 'unknown';
  if (kind === 'reversal') {
    // The recipient spent the money meanwhile: a definitive refusal, nothing moved (ADR 0017).
    if (status === 422 && body?.code === 'REVERSAL_WOULD_OVERDRAW') return 'rejected';
    return status >= 500 ? 'unknown' : 'unexpected';
  }
  if (kind === 'transfer') {
    // Funds, or the sender's daily/monthly spending limit (ADR 0016): refused, nothing moved, the key bound.
    if (status === 422 && (body?.code === 'INSUFFICIENT_FUNDS' || body?.code === 'LIMIT_EXCEEDED')) return 'rejected';
    return status >= 500 ? 'unknown' : 'unexpected';
  }
  if (kind === 'refund') {
    // 202 pending: the card refund has not answered; the same key again answers it as it is now (ADR 0018).
    if (status === 202) return 'unknown';
    // The owner spent the money meanwhile: refused before any debit, nothing moved.
    if (status === 422 && body?.code === 'INSUFFICIENT_FUNDS') return 'rejected';
    return status >= 500 ? 'unknown' : 'unexpected';
  }
  if (status === 402) return 'rejected'; // declined: nothing charged
  // A top-up that failed for good says so: nothing is left charged.
  if (status === 502 && body?.charged === false) return 'rejected';
  return status >= 500 ? 'unknown' : 'unexpected';
}

/**
 * What one answer means for a step of a hold (create, then capture, void, or
 * a read while waiting for its expiry). A create is like a transfer (plus a
 * 400 on expiresAt: an expiry that passed while the bank was unreachable was
 * refused unexecuted, nothing held). Capture and void of the workload's own
 * pending hold have one definitive answer, 200: the same call again replays
 * it; a 409 hold-not-pending means another action won, which the workload
 * never provokes (its holds expire in 7 days unless it lets them expire).
 * @param {'create' | 'capture' | 'void' | 'read'} step
 * @param {{ status?: number, body?: any, error?: string }} answer
 * @returns {'completed' | 'rejected' | 'unknown' | 'unexpected'}
 */
export function classifyHoldAnswer(step, answer) {
  const { status, body } = answer;
  if (status === undefined) return 'unknown';
  if (status === 401 || status === 403) return 'unexpected';
  if (status === 429) return 'unknown';
  if (step === 'create') {
    if (status === 201) return 'completed';
    if (status === 409) return 'unknown';
    if (status === 422 && (body?.code === 'INSUFFICIENT_FUNDS' || body?.code === 'LIMIT_EXCEEDED')) return 'rejected';
    // An expiry that passed while the bank was unreachable: refused unexecuted (422 invalid-field-value
    // since the request matched the contract; 400 before that mapping).
    if ((status === 400 || (status === 422 && body?.code === 'INVALID_FIELD_VALUE')) && /expires/i.test(JSON.stringify(body?.errors ?? []))) return 'rejected';
    return status >= 500 ? 'unknown' : 'unexpected';
  }
  if (status === 200) return 'completed';
  return status >= 500 ? 'unknown' : 'unexpected';
}

/**
 * The model: initial balances plus every acknowledged movement, each once.
 * A hold moves money only when captured (outcome completed: capturedMinor).
 * @param {Map<string, bigint>} initialMinor
 * @param {Iterable<Op>} ops
 * @returns {Map<string, bigint>}
 */
export function expectedBalances(initialMinor, ops) {
  const balances = new Map(initialMinor);
  const add = (id, delta) => {
    if (!balances.has(id)) throw new Error(`operation names an account outside the model: ${id}`);
    balances.set(id, balances.get(id) + delta);
  };
  for (const op of ops) {
    if (op.outcome !== 'completed') continue;
    if (op.kind === 'transfer') {
      add(op.from, -op.amountMinor);
      add(op.to, op.amountMinor);
    } else if (op.kind === 'hold') {
      add(op.from, -op.capturedMinor);
      add(op.to, op.capturedMinor);
    } else if (op.kind === 'reversal') {
      // from = the original recipient (debited), to = the original sender.
      add(op.from, -op.amountMinor);
      add(op.to, op.amountMinor);
    } else if (op.kind === 'refund') {
      // Back to the card (out of the customers' money); a failed refund was credited back or never debited.
      if (op.refundStatus === 'succeeded') add(op.accountId, -op.amountMinor);
    } else {
      add(op.accountId, op.amountMinor);
    }
  }
  return balances;
}

/**
 * The lowest balance each account may show (ADR 0016, ADR 0017): minus its
 * overdraft, and minus every forced reversal that debited it (an admin's force
 * may overdraw past the overdraft by at most the reversed amount). Accounts
 * with neither are absent (floor 0).
 * @param {Map<string, bigint>} overdraftMinor
 * @param {Iterable<Op>} ops
 */
export function balanceFloors(overdraftMinor, ops) {
  const floors = new Map([...overdraftMinor].map(([id, minor]) => [id, -minor]));
  for (const op of ops) {
    if (op.kind === 'reversal' && op.outcome === 'completed' && op.forced) floors.set(op.from, (floors.get(op.from) ?? 0n) - op.amountMinor);
  }
  return floors;
}

/** Money that left the customers' accounts for the cards: every succeeded refund. */
export function refundedMinor(ops) {
  return ops.filter((op) => op.kind === 'refund' && op.outcome === 'completed' && op.refundStatus === 'succeeded').reduce((s, op) => s + op.amountMinor, 0n);
}

/**
 * A finished refund's events in its account's history (ADR 0018), keyed by its top-up: succeeded = refund;
 * failed after the debit (the card refused, CARD_REFUND_DECLINED) = refund and refund_cancelled;
 * failed before any debit (the bank voided the reference, or refused) = none.
 */
function putRefund(put, op) {
  const wasDebited = op.refundStatus === 'succeeded' || op.failureReason === 'CARD_REFUND_DECLINED';
  if (wasDebited) put(op.accountId, `refund:${op.topUpId}`, { op, type: 'refund' });
  if (op.refundStatus === 'failed' && wasDebited) put(op.accountId, `refund_cancelled:${op.topUpId}`, { op, type: 'refund_cancelled' });
}

/** The history entries the model expects per account, keyed `${type}:${transferId|topUpId}`. */
export function expectedHistories(ops) {
  const byAccount = new Map();
  const put = (accountId, key, entry) => {
    if (!byAccount.has(accountId)) byAccount.set(accountId, new Map());
    byAccount.get(accountId).set(key, entry);
  };
  for (const op of ops) {
    if (op.kind === 'hold') {
      putHold(put, op);
      continue;
    }
    if (op.outcome !== 'completed') continue;
    if (op.kind === 'transfer') {
      put(op.from, `transfer_out:${op.resultId}`, { op, type: 'transfer_out' });
      put(op.to, `transfer_in:${op.resultId}`, { op, type: 'transfer_in' });
    } else if (op.kind === 'reversal') {
      put(op.from, `reversal_out:${op.resultId}`, { op, type: 'reversal_out' });
      put(op.to, `reversal_in:${op.resultId}`, { op, type: 'reversal_in' });
    } else if (op.kind === 'refund') {
      putRefund(put, op);
    } else {
      put(op.accountId, `topup:${op.resultId}`, { op, type: 'topup' });
    }
  }
  return byAccount;
}

/**
 * A hold's events (ADR 0015): hold_created for both sides once it exists, its
 * final event for both (captured: the captured amount, and the capture's
 * transfer_out/transfer_in; voided/expired: the held amount).
 */
function putHold(put, op) {
  if (!op.holdId) return;
  const both = (type, amountMinor) => {
    put(op.from, `${type}:${op.holdId}`, { op, type, amountMinor });
    put(op.to, `${type}:${op.holdId}`, { op, type, amountMinor });
  };
  both('hold_created', op.amountMinor);
  if (op.holdStatus === 'captured') {
    both('hold_captured', op.capturedMinor);
    put(op.from, `transfer_out:${op.resultId}`, { op, type: 'transfer_out', amountMinor: op.capturedMinor });
    put(op.to, `transfer_in:${op.resultId}`, { op, type: 'transfer_in', amountMinor: op.capturedMinor });
  } else if (op.holdStatus === 'voided' || op.holdStatus === 'expired') {
    both(`hold_${op.holdStatus}`, op.amountMinor);
  }
}

/** The key a history item is matched on, or undefined when it names nothing. */
export function historyKey(item) {
  if (item.type.startsWith('hold_')) return item.holdId ? `${item.type}:${item.holdId}` : undefined;
  if (item.type.startsWith('reversal_')) return item.reversalId ? `${item.type}:${item.reversalId}` : undefined;
  // The events' refundId is the bank's own refund id, which the REST answer (the card adapter's
  // refund id) does not carry: matched on the top-up, which the workload refunds at most once.
  if (item.type === 'refund' || item.type === 'refund_cancelled') return item.topUpId ? `${item.type}:${item.topUpId}` : undefined;
  const ref = item.type === 'topup' ? item.topUpId : item.transferId;
  return ref ? `${item.type}:${ref}` : undefined;
}

/**
 * Every invariant of the run. Each violation names the invariant, the ids and the numbers.
 * @param {{
 *   initialMinor: Map<string, bigint>,
 *   ops: Op[],
 *   observedMinor: Map<string, bigint>,
 *   histories?: Map<string, { id: string, type: string, amount: string, transferId?: string, topUpId?: string }[]>,
 *   sql?: SqlFacts,
 *   overdraftMinor?: Map<string, bigint>,
 * }} input overdraftMinor: the overdraft the run set per account (ADR 0016), none = 0
 * @returns {{ invariant: string, detail: string }[]}
 */
export function checkInvariants({ initialMinor, ops, observedMinor, histories, sql, overdraftMinor = new Map() }) {
  const violations = [];
  const v = (invariant, detail) => violations.push({ invariant, detail });
  for (const op of ops) {
    if (op.outcome === 'unknown') v('every request answered', `${op.kind} key=${op.key} never got a definitive answer (last: ${describeLast(op)})`);
    if (op.outcome === 'unexpected') v('no unexpected answers', `${op.kind} key=${op.key} answered ${describeLast(op)}`);
    if (op.outcome === 'completed' && !op.resultId) v('completed answers carry an id', `${op.kind} key=${op.key}`);
    const ids = new Set(op.answers.filter((a) => a.status === 201).map((a) => a.id));
    if (ids.size > 1) v('replays count once', `${op.kind} key=${op.key} answered 201 with different ids: ${[...ids].join(', ')}`);
  }
  const expected = expectedBalances(initialMinor, ops);
  const floors = balanceFloors(overdraftMinor, ops);
  for (const [accountId, expectedMinor] of expected) {
    const observed = observedMinor.get(accountId);
    if (observed === undefined) v('balance equals model', `account ${accountId}: no balance read`);
    else if (observed !== expectedMinor) {
      v('balance equals model', `account ${accountId}: observed ${formatMinor(observed)}, model ${formatMinor(expectedMinor)} (diff ${formatMinor(observed - expectedMinor)})`);
    }
    const floorMinor = floors.get(accountId) ?? 0n;
    if (observed !== undefined && observed < floorMinor) {
      v('no balance below -(overdraft + forced reversals out)', `account ${accountId}: ${formatMinor(observed)}, floor ${formatMinor(floorMinor)}`);
    }
  }
  const sum = (values) => [...values].reduce((a, b) => a + b, 0n);
  const toppedUp = sum(ops.filter((op) => op.kind === 'topup' && op.outcome === 'completed').map((op) => op.amountMinor));
  const refunded = refundedMinor(ops);
  const observedTotal = sum(observedMinor.values());
  if (observedTotal !== sum(initialMinor.values()) + toppedUp - refunded) {
    v('money conserved', `sum of balances ${formatMinor(observedTotal)} != initial ${formatMinor(sum(initialMinor.values()))} + completed top-ups ${formatMinor(toppedUp)} - succeeded refunds ${formatMinor(refunded)}`);
  }
  if (histories) violations.push(...checkHistories(ops, histories));
  if (sql) violations.push(...checkSqlFacts(sql, ops));
  return violations;
}

/** Every completed operation exactly once in each party's history, and nothing else there. */
export function checkHistories(ops, histories) {
  const violations = [];
  const v = (detail) => violations.push({ invariant: 'history exactly once', detail });
  const expected = expectedHistories(ops);
  for (const [accountId, items] of histories) {
    const want = expected.get(accountId) ?? new Map();
    const seen = new Map();
    const ids = new Set();
    for (const item of items) {
      if (ids.has(item.id)) v(`account ${accountId}: operation id ${item.id} listed twice`);
      ids.add(item.id);
      const key = historyKey(item);
      const entry = key && want.get(key);
      if (!entry) {
        v(`account ${accountId}: history has ${item.type} ${key ?? item.id} (${item.amount}) that no acknowledged request made`);
        continue;
      }
      seen.set(key, (seen.get(key) ?? 0) + 1);
      // A forced reversal's events say so in both histories, an ordinary one's do not (ADR 0017).
      if (item.type.startsWith('reversal_') && (item.forced === true) !== (entry.op.forced === true)) {
        violations.push({ invariant: 'forced reversals marked forced in both histories', detail: `account ${accountId}: ${key} forced=${item.forced ?? 'absent'}, answered forced=${entry.op.forced === true}` });
      }
      const amountMinor = entry.amountMinor ?? entry.op.amountMinor;
      if (parseMinor(item.amount) !== amountMinor) {
        v(`account ${accountId}: ${key} amount ${item.amount}, acknowledged ${formatMinor(amountMinor)}`);
      }
    }
    for (const [key, entry] of want) {
      const count = seen.get(key) ?? 0;
      if (count !== 1) v(`account ${accountId}: ${key} (key=${entry.op.key}) appears ${count} times`);
    }
  }
  for (const accountId of expected.keys()) {
    if (!histories.has(accountId)) v(`account ${accountId}: history not read`);
  }
  return violations;
}

/**
 * Facts read straight from PostgreSQL after the run (each optional: a table
 * that does not exist in this version is skipped, not passed).
 * @typedef {{
 *   ledgerMismatches?: { accountId: string, balanceMinor: bigint, ledgerMinor: bigint }[],
 *   totalAllAccountsMinor?: bigint,
 *   unfinishedTopUps?: { id: string, state: string, idempotencyKey: string }[],
 *   outboxRows?: number,
 *   topUps?: { id: string, state: string, idempotencyKey: string, netChargedMinor: bigint, amountMinor: bigint }[],
 *   depositMismatches?: { topUpId: string, state: string, idempotencyKey: string, deposits: number }[],
 *   chainBreaks?: { accountId: string, entryId: string, reason: string }[],
 *   holds?: { pendingOutMinor: bigint, pendingInMinor: bigint, heldMinor: bigint, pendingCount: number, captureMismatches: number },
 *   unfinishedRefunds?: { id: string, state: string, idempotencyKey: string }[],
 * }} SqlFacts
 */
export function checkSqlFacts(sql, ops) {
  const violations = [];
  const v = (invariant, detail) => violations.push({ invariant, detail });
  for (const m of sql.ledgerMismatches ?? []) {
    v('ledger sums to balance', `account ${m.accountId}: balance ${formatMinor(m.balanceMinor)}, ledger ${formatMinor(m.ledgerMinor)}`);
  }
  if (sql.totalAllAccountsMinor !== undefined && sql.totalAllAccountsMinor !== 0n) {
    v('double entry (all balances incl. settlement sum to 0)', `sum ${formatMinor(sql.totalAllAccountsMinor)}`);
  }
  for (const d of sql.depositMismatches ?? []) {
    v('one deposit per completed top-up, none for others', `top-up ${d.topUpId} key=${d.idempotencyKey} is ${d.state} with ${d.deposits} deposit(s) in the bank`);
  }
  if (sql.holds) {
    const h = sql.holds;
    if (h.pendingOutMinor !== h.heldMinor || h.pendingInMinor !== h.heldMinor) {
      v('pending parts equal pending holds', `sum pending_out ${formatMinor(h.pendingOutMinor)}, pending_in ${formatMinor(h.pendingInMinor)}, pending holds ${formatMinor(h.heldMinor)}`);
    }
    if (h.pendingCount > 0) v('every hold finalized (captured, voided or expired)', `${h.pendingCount} hold(s) still pending`);
    if (h.captureMismatches > 0) v('one transfer per captured hold, of the captured amount', `${h.captureMismatches} hold(s) disagree with their transfer`);
  }
  for (const b of sql.chainBreaks ?? []) v('ledger hash chain intact', `account ${b.accountId}: entry ${b.entryId}: ${b.reason}`);
  for (const t of sql.unfinishedTopUps ?? []) v('nothing left pending', `top-up ${t.id} key=${t.idempotencyKey} still ${t.state}`);
  if (sql.outboxRows) v('outbox drained', `${sql.outboxRows} events never published`);
  for (const r of sql.unfinishedRefunds ?? []) v('nothing left pending', `refund ${r.id} key=${r.idempotencyKey} still ${r.state}`);
  const byKey = new Map(ops.filter((op) => op.kind === 'topup').map((op) => [op.key, op]));
  // What went back to each top-up's card: its succeeded refunds (ADR 0018).
  const backToCard = new Map();
  for (const op of ops) {
    if (op.kind === 'refund' && op.outcome === 'completed' && op.refundStatus === 'succeeded') backToCard.set(op.topUpId, (backToCard.get(op.topUpId) ?? 0n) + op.amountMinor);
  }
  for (const t of sql.topUps ?? []) {
    const completed = t.state === 'COMPLETED';
    if (t.netChargedMinor !== (completed ? t.amountMinor - (backToCard.get(t.id) ?? 0n) : 0n)) {
      v('card charged only for completed top-ups', `top-up ${t.id} key=${t.idempotencyKey} ${t.state}: card left charged ${formatMinor(t.netChargedMinor)}, refunded ${formatMinor(backToCard.get(t.id) ?? 0n)}`);
    }
    const op = byKey.get(t.idempotencyKey);
    if (op && op.outcome === 'completed' && !completed) v('acknowledged top-up completed', `top-up ${t.id} key=${t.idempotencyKey} answered 201 but is ${t.state}`);
    if (op && op.outcome === 'rejected' && completed) v('refused top-up moved nothing', `top-up ${t.id} key=${t.idempotencyKey} answered ${describeLast(op)} but is COMPLETED`);
  }
  return violations;
}

function describeLast(op) {
  const last = op.answers.at(-1);
  if (!last) return 'no attempt';
  return last.status === undefined ? `error ${last.error}` : `${last.status}${last.code ? ` ${last.code}` : ''}`;
}

/**
 * Every answer that refused the workload's credentials (401, 403), whatever the
 * request: money movements, reads and the final checks all send the owner's
 * token, refreshed well before it expires, so each one is a violation (with its
 * kind, status, count and first time), even when a retry later succeeded.
 * Token-endpoint answers (kind `login`) are not requests under test here.
 * @param {{ kind: string, status?: number | string, sentAtMs: number }[]} answers
 * @param {number} [startMs] to show times relative to the workload's start
 */
export function checkAuthAnswers(answers, startMs = 0) {
  const refused = new Map();
  for (const a of answers) {
    if (a.kind === 'login' || (a.status !== 401 && a.status !== 403)) continue;
    const key = `${a.kind} ${a.status}`;
    const seen = refused.get(key) ?? { count: 0, firstMs: a.sentAtMs };
    seen.count += 1;
    seen.firstMs = Math.min(seen.firstMs, a.sentAtMs);
    refused.set(key, seen);
  }
  return [...refused].map(([key, { count, firstMs }]) => ({
    invariant: 'valid tokens accepted (no 401/403 to the owner)',
    detail: `${count} × ${key}, first at ${((firstMs - startMs) / 1000).toFixed(1)} s`,
  }));
}

/**
 * Recovery time of each fault: from its start until the first successful
 * answer of the kind it affects (sent after the fault began).
 * @param {{ name: string, startedAtMs: number, affects: string }[]} faults
 * @param {{ kind: string, sentAtMs: number, answeredAtMs: number, ok: boolean }[]} answers sorted by answeredAtMs
 */
export function recoveryTimes(faults, answers) {
  return faults.map((fault) => {
    const first = answers.find((a) => a.ok && a.sentAtMs >= fault.startedAtMs && (fault.affects === 'any' || a.kind === fault.affects));
    return { ...fault, recoveryMs: first ? first.answeredAtMs - fault.startedAtMs : undefined };
  });
}

/**
 * @typedef {{
 *   kind: 'transfer' | 'topup' | 'hold', key: string, amountMinor: bigint,
 *   from?: string, to?: string, accountId?: string,
 *   holdId?: string, holdStatus?: 'captured' | 'voided' | 'expired', capturedMinor?: bigint,
 *   transferId?: string, force?: boolean, forced?: boolean, initiatedBy?: string,
 *   outcome: 'completed' | 'rejected' | 'unknown' | 'unexpected',
 *   resultId?: string,
 *   answers: { status?: number, code?: string, id?: string, error?: string, atMs: number }[],
 * }} Op
 */

/**
 * Text of a TLS handshake refusal as grpc-js, node's tls and libpq report it
 * (certificate not trusted, expired, wrong name, none sent, protocol mix-up).
 * "socket disconnected before secure TLS connection" and "unexpected eof"
 * are left out: a peer killed mid-handshake says that too, and kills are
 * expected here.
 */
const TLS_REFUSAL = /unable to (?:verify|get local issuer)|self[- ]signed certificate|certificate (?:has expired|is not yet valid|required|unknown|verify failed)|CERT_[A-Z_]{4,}|ERR_TLS_CERT_ALTNAME_INVALID|does not match certificate's altnames|(?:tlsv1[0-3]?|sslv3) alert|alert (?:bad|unknown|certificate)|wrong version number|peer did not return a certificate|no certificate returned/i;
/** A caller refused by a caller table (PERMISSION_DENIED / UNAUTHENTICATED before the handler). */
const CALLER_REFUSAL = /CALLER_NOT_ALLOWED|CALLER_UNAUTHENTICATED|caller refused/i;
const SEVERE_LEVELS = new Set(['warn', 'error', 'fatal', 40, 50, 60]);

/**
 * What one service log line says about mutual TLS going wrong between
 * correctly configured services, or undefined:
 * - 'caller refused': a server's caller table refused a caller (every caller
 *   of this system is in its tables, so this is never expected);
 * - 'TLS handshake refused': a warning or error naming a certificate or
 *   handshake failure (the client sees it as UNAVAILABLE, which a retry
 *   would otherwise hide as "the dependency is down").
 * A failed certificate reload is not counted: the provider keeps the current
 * certificate by design, and the rotation fault checks the new one is used.
 * @param {string} line one line of a service's output (JSON from pino, or anything on stderr)
 */
export function tlsProblemOf(line) {
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    entry = undefined;
  }
  if (CALLER_REFUSAL.test(line)) return 'caller refused';
  if (entry && typeof entry === 'object' && /certificate reload failed/i.test(String(entry.msg ?? ''))) return undefined;
  const severe = entry && typeof entry === 'object' ? SEVERE_LEVELS.has(entry.level) : true;
  return severe && TLS_REFUSAL.test(line) ? 'TLS handshake refused' : undefined;
}

/**
 * Violations from the problems found in the services' logs: one per service
 * and kind, with the count and the first line (shortened).
 * @param {{ service: string, kind: string, line: string }[]} problems
 */
export function checkTlsProblems(problems) {
  const grouped = new Map();
  for (const p of problems) {
    const key = `${p.service}\u0000${p.kind}`;
    const seen = grouped.get(key) ?? { ...p, count: 0 };
    seen.count += 1;
    grouped.set(key, seen);
  }
  const invariant = {
    'caller refused': 'correct callers accepted (no PERMISSION_DENIED / caller refused between the services)',
    'TLS handshake refused': 'TLS handshakes succeed between correctly configured services',
  };
  return [...grouped.values()].map((p) => ({
    invariant: invariant[p.kind] ?? p.kind,
    detail: `${p.service}: ${p.count} × ${p.kind}; first: ${p.line.length > 300 ? `${p.line.slice(0, 300)}…` : p.line}`,
  }));
}
