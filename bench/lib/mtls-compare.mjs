// The cost of mutual TLS, stated in the same run (issue 11): the same short
// measurements with mTLS on every gRPC hop (as deployed), then with every gRPC
// service restarted in plaintext (the bench-only hook
// WALLET_TEST_GRPC_PLAINTEXT=true, TLS files unset, so no caller tables
// either) and a plaintext bench client. Same pattern as the bank variant
// (group commit on/off): one system, restarted with other env, before/after.
import * as sc from './scenarios.mjs';
import { bankTransport, createBenchGrpcSecurity } from './tls.mjs';

/**
 * The services restarted in plaintext, in restart order: servers before their
 * callers (the card adapter's /readyz pings the bank and the payment gateway
 * mock), the gateway last (its /readyz checks every backend). The
 * identity-service has no gRPC: it stays as it is.
 */
export const PLAINTEXT_SERVICE_KEYS = Object.freeze(['bank', 'analytics', 'paymentGatewayMock', 'cardAdapter', 'gateway']);

/** The hook and the TLS file variables emptied (empty = unset for the services' config; the hook refuses them set). */
export const PLAINTEXT_ENV = Object.freeze({ WALLET_TEST_GRPC_PLAINTEXT: 'true', TLS_CA_FILE: '', TLS_CERT_FILE: '', TLS_KEY_FILE: '' });

/**
 * The env of one service in the "mTLS off" half: PLAINTEXT_ENV; the
 * development CA through NODE_EXTRA_CA_CERTS (without TLS_CA_FILE the token
 * verifiers still reach an https identity-service); the card adapter's payment
 * gateway URL in http (the mock serves plain HTTP under the same hook).
 */
export function plaintextEnvFor(handle, pki) {
  const env = { ...PLAINTEXT_ENV, ...(pki?.caFile ? { NODE_EXTRA_CA_CERTS: pki.caFile } : {}) };
  for (const [name, value] of Object.entries(handle.env ?? {})) {
    if (name.endsWith('PAYMENT_GATEWAY_URL') && value.startsWith('https://')) env[name] = `http://${value.slice('https://'.length)}`;
  }
  return env;
}

/** The fixed moderate rate of the latency rows: a third of the mTLS-on REST peak, within these bounds. */
export const MODERATE_RATE_PER_S_MIN = 10;
export const MODERATE_RATE_PER_S_MAX = 300;

/** Rate (requests/s) at which both modes are compared for latency, from the mTLS-on REST peak. */
export function moderateRatePerS(peakPerS) {
  if (!(peakPerS > 0)) return MODERATE_RATE_PER_S_MIN;
  return Math.min(MODERATE_RATE_PER_S_MAX, Math.max(MODERATE_RATE_PER_S_MIN, Math.round(peakPerS / 3)));
}

/** The phases of one half, in order; `rate` phases run at the rate fixed from the first half's REST peak. */
const PHASES = [
  { key: 'restPeak', id: (m, c) => `mtls-${m}-rest-c${c}`, title: 'REST transfers, uniform, closed loop', run: (ctx, c) => sc.restUniform(ctx, c) },
  { key: 'grpcPeak', id: (m, c) => `mtls-${m}-grpc-c${c}`, title: 'gRPC TransferMoney to bank-service, uniform, closed loop', run: (ctx, c) => sc.grpcUniform(ctx, c) },
  { key: 'restRate', id: (m, c, r) => `mtls-${m}-rest-rate${r}`, title: 'REST transfers, uniform, open loop at a fixed rate', run: (ctx, c, r) => sc.restUniformAtRate(ctx, r) },
  { key: 'grpcRate', id: (m, c, r) => `mtls-${m}-grpc-rate${r}`, title: 'gRPC TransferMoney, uniform, open loop at a fixed rate', run: (ctx, c, r) => sc.grpcUniformAtRate(ctx, r) },
];

/** Restarts services with extra env, in order; tells the sampler their new pids; returns the seconds it took. */
async function restartWith({ system, keys, envOf, sampler, log }) {
  const t0 = Date.now();
  for (const key of keys) {
    const handle = system.processes[key];
    if (!handle) continue;
    const pid = await system.restart(key, envOf(key, handle));
    sampler.setPids(handle.name, [pid]);
    log(`  ${handle.name} restarted (pid ${pid})`);
  }
  return Math.round((Date.now() - t0) / 100) / 10;
}

/** One half: a warm-up when asked, then every phase with the given bench transport. */
async function measureHalf({ mode, ctx, measure, push, compare, ratePerS, warmUpMs }) {
  if (warmUpMs > 0) {
    await measure(`mtls-${mode}-warm-up`, `REST transfers, warm-up with mTLS ${mode} (not counted)`, () =>
      sc.restUniform({ ...ctx, durations: { ...ctx.durations, loadMs: warmUpMs } }, 32),
    );
  }
  const ids = {};
  for (const phase of PHASES) {
    const rate = phase.key.endsWith('Rate') ? ratePerS() : undefined;
    const id = phase.id(mode, compare.concurrency, rate);
    const row = await measure(id, `${phase.title} [mTLS ${mode}]`, () => phase.run(ctx, compare.concurrency, rate), { mtls: mode });
    if (row) ids[phase.key] = push(row).id;
  }
  return ids;
}

/**
 * Runs the comparison on a system the bench started. `restore` is env to put
 * back first (a bank variant phase ran before: its services get a short
 * warm-up after the restart), `onWarmUpMs` a warm-up before the mTLS-on half
 * (nothing measured before it). Leaves the system in plaintext: run it last.
 * @returns {Promise<{ concurrency: number, ratePerS?: number, on: Record<string, string>, off: Record<string, string>, restartS: number, services: string[], env: object }>}
 */
export async function runMtlsCompare({ ctx, system, pki, measure, push, sampler, compare, log, restore = {}, onWarmUpMs = 0 }) {
  const keys = PLAINTEXT_SERVICE_KEYS.filter((k) => system.processes[k]);
  const result = { concurrency: compare.concurrency, on: {}, off: {}, restartS: 0, services: keys.map((k) => system.processes[k].name), env: {} };
  const durations = { warmupMs: compare.warmupMs, loadMs: compare.loadMs };
  const restoreKeys = Object.keys(restore).filter((key) => system.processes[key]);
  if (restoreKeys.length > 0) {
    log(`mTLS comparison: restarting ${restoreKeys.join(', ')} with its default configuration first`);
    await restartWith({ system, keys: restoreKeys, envOf: (key) => restore[key], sampler, log });
  }
  // Fixed from the mTLS-on REST peak (below), the same for both halves.
  const rate = () => (result.ratePerS ??= moderateRatePerS(0));
  const onSecurity = createBenchGrpcSecurity({ pki });
  try {
    const onCtx = { ...ctx, durations, grpcTransport: bankTransport(onSecurity) };
    const fixRate = () => (result.ratePerS ??= moderateRatePerS(onCtx.restPeakPerS));
    const measureOn = async (id, title, fn, extra) => {
      const row = await measure(id, title, fn, extra);
      if (row && id.includes('-rest-c')) onCtx.restPeakPerS = row.throughputPerS;
      return row;
    };
    result.on = await measureHalf({ mode: 'on', ctx: onCtx, measure: measureOn, push, compare, ratePerS: fixRate, warmUpMs: Math.max(onWarmUpMs, restoreKeys.length > 0 ? compare.restartWarmupMs : 0) });
  } finally {
    onSecurity.close();
  }
  log(`mTLS comparison: restarting ${result.services.join(', ')} with WALLET_TEST_GRPC_PLAINTEXT=true, TLS_* unset`);
  result.restartS = await restartWith({
    system,
    keys,
    envOf: (key, handle) => (result.env[handle.name] = plaintextEnvFor(handle, pki)),
    sampler,
    log,
  });
  const offSecurity = createBenchGrpcSecurity({ plaintext: true });
  try {
    const offCtx = { ...ctx, durations, grpcTransport: bankTransport(offSecurity) };
    result.off = await measureHalf({ mode: 'off', ctx: offCtx, measure, push, compare, ratePerS: rate, warmUpMs: compare.restartWarmupMs });
  } finally {
    offSecurity.close();
  }
  return result;
}

const percentChange = (on, off) => (on === undefined || off === undefined || !off ? undefined : ((on - off) / off) * 100);
const f = (v, digits = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
const signed = (v, digits = 1, unit = '') => (v === undefined || Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}${unit}`);
const sumCpu = (row) => (row?.cpuMsPerRequest ? Object.values(row.cpuMsPerRequest).reduce((a, b) => a + b, 0) : undefined);

/**
 * The comparison as a Markdown table: measure | mTLS on | mTLS off | cost of mTLS
 * (throughput: how much lower with mTLS; latency and CPU: how much more).
 * @param {{ mtlsCompare?: object, scenarios: object[] }} run  (results.json's shape)
 */
export function mtlsTable(run) {
  const cmp = run.mtlsCompare;
  if (!cmp) return [];
  const row = (mode, key) => run.scenarios.find((s) => s.id === cmp[mode]?.[key]);
  const lines = ['| measure | mTLS on | mTLS off | cost of mTLS |', '|---|---|---|---|'];
  const throughput = (key, label) => {
    const on = row('on', key)?.throughputPerS;
    const off = row('off', key)?.throughputPerS;
    const change = percentChange(on, off);
    lines.push(`| ${label} (transfers/s) | ${f(on)} | ${f(off)} | ${change === undefined ? '–' : `${signed(change, 1, ' %')} throughput`} |`);
  };
  const latency = (key, label) => {
    const on = row('on', key)?.latency;
    const off = row('off', key)?.latency;
    const d = (p) => (on?.[p] === undefined || off?.[p] === undefined ? undefined : on[p] - off[p]);
    lines.push(`| ${label}: p50 / p99 ms | ${f(on?.p50Ms, 2)} / ${f(on?.p99Ms, 2)} | ${f(off?.p50Ms, 2)} / ${f(off?.p99Ms, 2)} | ${signed(d('p50Ms'), 2)} / ${signed(d('p99Ms'), 2)} ms |`);
  };
  const cpu = (key, label, groups) => {
    const on = row('on', key);
    const off = row('off', key);
    const cells = (r) => [...groups.map((g) => f(r?.cpuMsPerRequest?.[g], 3)), f(sumCpu(r), 3)].join(' / ');
    const delta = percentChange(sumCpu(on), sumCpu(off));
    const byGroup = groups.map((g) => signed(on?.cpuMsPerRequest?.[g] !== undefined && off?.cpuMsPerRequest?.[g] !== undefined ? on.cpuMsPerRequest[g] - off.cpuMsPerRequest[g] : undefined, 3)).join(' / ');
    lines.push(`| ${label}: ${[...groups, 'all processes'].join(' / ')} | ${cells(on)} | ${cells(off)} | ${byGroup} / ${signed(sumCpu(on) !== undefined && sumCpu(off) !== undefined ? sumCpu(on) - sumCpu(off) : undefined, 3)} ms (${signed(delta, 1, ' %')}) |`);
  };
  throughput('restPeak', `REST uniform peak, c = ${cmp.concurrency}`);
  throughput('grpcPeak', `gRPC direct to the bank, c = ${cmp.concurrency}`);
  latency('restRate', `REST at ${cmp.ratePerS ?? '–'}/s (open loop)`);
  latency('grpcRate', `gRPC direct at ${cmp.ratePerS ?? '–'}/s (open loop)`);
  cpu('restPeak', 'CPU ms per REST transfer at the peak', ['api-gateway', 'bank-service']);
  cpu('grpcPeak', 'CPU ms per gRPC transfer at the peak', ['bench (load generator)', 'bank-service']);
  const load = (mode) => {
    const rows = Object.values(cmp[mode] ?? {}).map((id) => run.scenarios.find((s) => s.id === id)).filter(Boolean);
    return rows.length ? `${f(Math.min(...rows.map((r) => r.loadAvg.before)), 1)} – ${f(Math.max(...rows.map((r) => r.loadAvg.after)), 1)}` : '–';
  };
  lines.push(`| load average (1 min) during the phases | ${load('on')} | ${load('off')} | |`);
  return lines;
}

/** The report section (bench/lib/report.mjs). */
export function mtlsSection(run) {
  const cmp = run.mtlsCompare;
  if (!cmp) return [];
  return [
    '## mTLS cost (issue 11)',
    '',
    `Same run, same system: first with mutual TLS on every gRPC hop, as deployed (the bench's own gRPC client presents the api-gateway's certificate), ` +
      `then after restarting ${cmp.services.join(', ')} with \`WALLET_TEST_GRPC_PLAINTEXT=true\` and the TLS file variables unset (plaintext, no caller tables; ` +
      `restarts took ${f(cmp.restartS)} s) and a plaintext bench client. REST clients reach the gateway over plain HTTP/1.1 in both halves: what changes is the ` +
      `gateway → bank hop (one long-lived HTTP/2 connection, so the handshake is paid once; each call pays the record encryption). ` +
      `The latency rows run open loop at ${cmp.ratePerS ?? '–'}/s (a third of the mTLS-on REST peak), the same rate in both halves. ` +
      'Cost = on − off (throughput: relative; latency and CPU: absolute, CPU also relative). The halves ran one after the other on a shared machine: ' +
      'compare CPU per request first, it moves least with the machine\'s load.',
    '',
    ...mtlsTable(run),
    '',
  ];
}
