// Throughput of 1 vs 2 bank-service replicas (issue 13), same run, same
// system: every service of ours runs twice behind HAProxy (scripts/lib/system.mjs,
// C5), the gateways balance their bank calls round_robin over the bank replicas
// that answer their health checks (C1). "1 bank" = bank.2 stopped on purpose
// (the gateways' health-aware resolver drops it), "2 banks" = bank.2 started
// again. Phases alternate 1, 2, 1, 2 so drift of a shared, busy machine shows
// up as a difference between the two rounds rather than as a replica effect.
import * as sc from './scenarios.mjs';

/** The bank instance stopped for the one-replica phases. */
export const SECOND_BANK = 'bank.2';
/** The phase order: bank replicas in service. */
export const REPLICA_PHASES = Object.freeze([1, 2, 1, 2]);

/**
 * @param {{ ctx: object, system: object, measure: Function, push: Function, sampler: object,
 *   compare: { concurrency: number, loadMs: number, warmupMs: number, switchWarmupMs: number }, log: (line: string) => void }} options
 */
export async function runBankReplicasCompare({ ctx, system, measure, push, sampler, compare, log }) {
  if (!system?.stopInstance || (system.replicas ?? 1) < 2) throw new Error('the bank replicas comparison needs a system the bench started with replicas 2');
  const durations = { ...ctx.durations, warmupMs: compare.warmupMs, loadMs: compare.loadMs };
  const phaseCtx = { ...ctx, durations };
  const result = { concurrency: compare.concurrency, phases: [], loadMs: compare.loadMs };
  await measure('replicas-warm-up', 'REST transfers, warm-up with 2 bank replicas (not counted)', () =>
    sc.restUniform({ ...phaseCtx, durations: { ...durations, loadMs: compare.switchWarmupMs * 2 } }, 32),
  );
  let running = 2;
  for (const [round, banks] of REPLICA_PHASES.entries()) {
    if (banks !== running) {
      await switchTo(banks, { system, sampler, log });
      running = banks;
      // Not counted: the gateways' channels move to (or away from) the other replica, its pools and JIT warm up.
      await measure(`replicas-${banks}-switch-${round + 1}`, `REST transfers after switching to ${banks} bank replica(s) (not counted)`, () =>
        sc.restUniform({ ...phaseCtx, durations: { ...durations, loadMs: compare.switchWarmupMs } }, 32),
      );
    }
    const row = push(
      await measure(`replicas-bank${banks}-round${Math.floor(round / 2) + 1}-c${compare.concurrency}`, `REST transfers, uniform, closed loop [${banks} bank replica(s), 2 of everything else]`, () =>
        sc.restUniform(phaseCtx, compare.concurrency),
      ),
    );
    if (row) result.phases.push({ banks, id: row.id, throughputPerS: row.throughputPerS, p50Ms: row.latency?.p50Ms, p99Ms: row.latency?.p99Ms, errors: row.errors ?? 0 });
  }
  const mean = (banks) => {
    const rates = result.phases.filter((p) => p.banks === banks).map((p) => p.throughputPerS);
    return rates.length ? Math.round(rates.reduce((a, b) => a + b, 0) / rates.length) : undefined;
  };
  result.meanPerS = { oneBank: mean(1), twoBanks: mean(2) };
  return result;
}

async function switchTo(banks, { system, sampler, log }) {
  if (banks === 1) {
    await system.stopInstance(SECOND_BANK);
    sampler.setPids(system.processes[SECOND_BANK].name, []);
  } else {
    const pid = await system.startInstance(SECOND_BANK);
    sampler.setPids(system.processes[SECOND_BANK].name, [pid]);
  }
  log(`replicas comparison: ${banks} bank replica(s) in service`);
}

/** The comparison as Markdown lines (report.md and the console). */
export function replicasTable(run) {
  const cmp = run.bankReplicasCompare;
  if (!cmp) return [];
  const lines = ['| phase | bank replicas | transfers/s | p50 ms | p99 ms | errors |', '|---|---|---|---|---|---|'];
  for (const p of cmp.phases) lines.push(`| ${p.id} | ${p.banks} | ${p.throughputPerS} | ${p.p50Ms ?? '–'} | ${p.p99Ms ?? '–'} | ${p.errors} |`);
  const { oneBank, twoBanks } = cmp.meanPerS;
  const change = oneBank && twoBanks ? `${twoBanks >= oneBank ? '+' : '−'}${Math.abs(((twoBanks - oneBank) / oneBank) * 100).toFixed(1)} %` : '–';
  lines.push('', `Mean: 1 bank replica ${oneBank ?? '–'}/s, 2 bank replicas ${twoBanks ?? '–'}/s (${change}); ${cmp.concurrency} concurrent REST clients through HAProxy and 2 gateways.`);
  return lines;
}
