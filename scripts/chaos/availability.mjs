// What a client of the chaos run saw, as availability numbers (pure, no I/O;
// unit-tested in test/chaos/availability.test.ts): how many answers were
// errors it had to retry, and the longest interval in which no request of a
// kind got a successful answer, with the faults that interval overlapped.
// With replicas (issue 13) the target is no interval longer than 2 s while a
// single replica is killed: a retry with the same key should find another one.

/** The client's own requests (the derived kind `event` is not a request). */
export const CLIENT_KINDS = Object.freeze(['transfer', 'topup', 'balance', 'history', 'login']);
/** Faults of shared infrastructure (one PostgreSQL, one Kafka): replicas of the services cannot hide them. */
export const INFRA_FAULT = /postgres|kafka/i;
/** The issue's target for the longest interval without a successful answer while one replica is lost. */
export const GAP_MS_TARGET = 2_000;

/**
 * True for an answer the client had to treat as "try again": no HTTP answer
 * (connection refused/reset, timeout), a 5xx, or a 408/409/429. Business
 * refusals (402, 422) and 401/403 (a violation of their own) are answers.
 * @param {{ status?: number | string }} answer status: the HTTP status, or the network error's code
 */
export function isClientError({ status }) {
  if (typeof status !== 'number') return true;
  return status >= 500 || status === 408 || status === 409 || status === 429;
}

/**
 * Error answers per `kind status [problem code]` over the client's requests.
 * @param {{ kind: string, status?: number | string, code?: string }[]} answers
 * @returns {{ total: number, answers: number, byKindStatus: Record<string, number> }}
 */
export function countClientErrors(answers) {
  const byKindStatus = {};
  let total = 0;
  let count = 0;
  for (const a of answers) {
    if (!CLIENT_KINDS.includes(a.kind)) continue;
    count += 1;
    if (!isClientError(a)) continue;
    total += 1;
    const key = `${a.kind} ${a.status ?? 'no answer'}${a.code ? ` ${a.code}` : ''}`;
    byKindStatus[key] = (byKindStatus[key] ?? 0) + 1;
  }
  return { total, answers: count, byKindStatus };
}

/**
 * The longest interval in [fromMs, toMs] without a successful answer among
 * `answers` of the given kinds (every client kind by default): between two
 * consecutive successes (by answeredAtMs), or from fromMs to the first, or
 * from the last to toMs.
 * @param {{ kind: string, status?: number | string, answeredAtMs: number }[]} answers
 * @param {{ fromMs: number, toMs: number, kinds?: readonly string[] }} window
 * @returns {{ gapMs: number, fromMs: number, toMs: number }}
 */
export function longestGap(answers, { fromMs, toMs, kinds = CLIENT_KINDS }) {
  const times = answers
    .filter((a) => kinds.includes(a.kind) && !isClientError(a) && a.answeredAtMs >= fromMs && a.answeredAtMs <= toMs)
    .map((a) => a.answeredAtMs)
    .sort((x, y) => x - y);
  let best = { gapMs: 0, fromMs, toMs: fromMs };
  let previousMs = fromMs;
  for (const atMs of [...times, toMs]) {
    if (atMs - previousMs > best.gapMs) best = { gapMs: atMs - previousMs, fromMs: previousMs, toMs: atMs };
    previousMs = atMs;
  }
  return best;
}

/** The names of the faults whose window [startedAtMs, healedAtMs] overlaps [fromMs, toMs]. */
export function faultsDuring(faults, { fromMs, toMs }) {
  return faults.filter((f) => f.startedAtMs <= toMs && (f.healedAtMs ?? Infinity) >= fromMs).map((f) => f.name);
}

/** Which client kinds a fault should hurt (`any` = every kind, `event` = none a client sends). */
function kindsAffected(affects) {
  if (affects === 'any') return CLIENT_KINDS;
  return CLIENT_KINDS.includes(affects) ? [affects] : [];
}

/**
 * Per fault: the longest interval without a successful answer of the kinds it
 * affects, among the intervals that overlap its window (start to healed), and
 * the other faults that interval overlapped (then the gap is not this fault's
 * alone). Faults that affect no client kind (`event`) get no gap.
 * @template {{ name: string, affects: string, startedAtMs: number, healedAtMs?: number }} F
 * @param {F[]} faults
 * @param {{ kind: string, status?: number | string, answeredAtMs: number }[]} answers
 * @returns {(F & { gapMs?: number, gapOverlaps?: string[] })[]}
 */
export function gapsOfFaults(faults, answers) {
  return faults.map((fault) => {
    const kinds = kindsAffected(fault.affects);
    if (kinds.length === 0 || fault.healedAtMs === undefined) return { ...fault };
    // Bounded by the answers just before the fault and just after it healed.
    let before = -Infinity;
    let after = Infinity;
    for (const a of answers) {
      if (!kinds.includes(a.kind) || isClientError(a)) continue;
      if (a.answeredAtMs <= fault.startedAtMs && a.answeredAtMs > before) before = a.answeredAtMs;
      if (a.answeredAtMs >= fault.healedAtMs && a.answeredAtMs < after) after = a.answeredAtMs;
    }
    const window = { fromMs: Number.isFinite(before) ? before : fault.startedAtMs, toMs: Number.isFinite(after) ? after : fault.healedAtMs };
    const gap = longestGap(answers, { ...window, kinds });
    const gapOverlaps = faultsDuring(faults, gap).filter((name) => name !== fault.name);
    return { ...fault, gapMs: gap.gapMs, gapOverlaps };
  });
}

/**
 * Kinds the workload sends too rarely for a gap to mean anything: the token
 * prober refreshes one session every 2 s, so a login gap is at least that.
 */
export const SPARSE_KINDS = Object.freeze(['login']);

/**
 * The number the issue asks for: the longest interval without a successful
 * answer over the faults that kill replicas (`kill -9 ...`; not shared
 * infrastructure, not certificate rotations), leaving out gaps that overlap
 * an infrastructure fault (those are the infrastructure's, not the replica's:
 * `excluded`) and faults whose kind is only sampled (`sparse`: the identity's
 * logins, every 2 s). `singles`: kills of a service that has one instance
 * (the payment gateway mock, an external provider): not a replica's loss.
 * @param {{ name: string, affects: string, gapMs?: number, gapOverlaps?: string[] }[]} faultsWithGaps from gapsOfFaults
 * @param {{ singles?: string[] }} [options]
 * @returns {{ gapMs: number, fault?: string, measured: number, excluded: string[], sparse: string[] }}
 */
export function replicaGap(faultsWithGaps, { singles = [] } = {}) {
  let worst = { gapMs: 0, fault: undefined };
  let measured = 0;
  const excluded = [];
  const sparse = [];
  for (const f of faultsWithGaps) {
    if (f.gapMs === undefined || !/^kill -9 /.test(f.name) || INFRA_FAULT.test(f.name) || singles.includes(f.name)) continue;
    if (SPARSE_KINDS.includes(f.affects)) {
      sparse.push(f.name);
      continue;
    }
    if ((f.gapOverlaps ?? []).some((name) => INFRA_FAULT.test(name))) {
      excluded.push(f.name);
      continue;
    }
    measured += 1;
    if (f.gapMs > worst.gapMs) worst = { gapMs: f.gapMs, fault: f.name };
  }
  return { ...worst, measured, excluded, sparse };
}
