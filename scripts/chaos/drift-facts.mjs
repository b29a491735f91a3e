// The history cross-check after a chaos run (issue #15, ADR 0021): every
// analytics instance must finish clean cross-check runs whose cut-off lies
// after the workload ended (so they compare every acknowledged operation), with
// analytics_ledger_drift_accounts at 0. Bounded wait; a timeout is a violation
// naming what the instance reported last.
import { setTimeout as sleep } from 'node:timers/promises';

/** Cross-check cadence of the chaos system (the defaults, 60 s / 30 s, would outlast the run). */
export const CHAOS_CROSS_CHECK_ENV = { ANALYTICS_CROSS_CHECK_INTERVAL_MS: '1000', ANALYTICS_CROSS_CHECK_SETTLE_MS: '5000' };
const SETTLE_MS = Number(CHAOS_CROSS_CHECK_ENV.ANALYTICS_CROSS_CHECK_SETTLE_MS);
/** Clean runs required after the cut-off passed the end of the workload. */
const CLEAN_RUNS_MIN = 2;
const POLL_MS = 500;
const METRICS_TIMEOUT_MS = 3_000;

async function readMetrics(opsPort) {
  const res = await fetch(`http://127.0.0.1:${opsPort}/metrics`, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
  const text = await res.text();
  // The registry adds default labels (service=...): match the name and the wanted label, whatever else.
  const value = (name, label = '') => {
    const line = text.split('\n').find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(label));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
  };
  return {
    okRuns: value('analytics_ledger_cross_check_runs_total', 'outcome="ok"'),
    errorRuns: value('analytics_ledger_cross_check_runs_total', 'outcome="error"'),
    driftRuns: value('analytics_ledger_cross_check_runs_total', 'outcome="drift"'),
    driftAccounts: value('analytics_ledger_drift_accounts'),
    driftMinor: value('analytics_ledger_drift_minor'),
  };
}

/**
 * @param {{ instances: { name: string, opsPort: number }[], workloadEndedMs: number, waitMs: number }} options
 * @returns {Promise<{ instances: { name: string, okRuns: number, driftRuns: number, errorRuns: number, driftAccounts: number, driftMinor: number }[], violations: { invariant: string, detail: string }[] }>}
 */
export async function readLedgerDrift({ instances, workloadEndedMs, waitMs }) {
  const violations = [];
  const results = [];
  const deadline = Date.now() + waitMs;
  // Runs that start after this compare everything the workload committed.
  while (Date.now() <= workloadEndedMs + SETTLE_MS && Date.now() < deadline) await sleep(POLL_MS);
  for (const { name, opsPort } of instances) {
    let start;
    let last;
    while (Date.now() < deadline) {
      last = await readMetrics(opsPort).catch(() => undefined);
      start ??= last;
      if (last && start && last.okRuns >= start.okRuns + CLEAN_RUNS_MIN && last.driftAccounts === 0) break;
      await sleep(POLL_MS);
    }
    results.push({ name, ...(last ?? {}) });
    if (!last || !start || last.okRuns < start.okRuns + CLEAN_RUNS_MIN || last.driftAccounts !== 0) {
      violations.push({
        invariant: 'history agrees with the ledger (cross-check drift 0)',
        detail: `${name}: ${last ? `${last.driftAccounts} drifting accounts (${last.driftMinor} minor units), ok runs ${start ? last.okRuns - start.okRuns : 0} of ${CLEAN_RUNS_MIN}, error runs ${last.errorRuns}` : 'metrics unreadable'} after ${Math.round(waitMs / 1000)} s`,
      });
    }
  }
  return { instances: results, violations };
}
