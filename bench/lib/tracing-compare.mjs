// The cost of tracing, stated in the same run (issue 12): the same short REST
// measurements with every service exporting spans to an OTLP receiver (a
// separate process on loopback: bench/lib/otlp-receiver-process.mjs) with the
// sampler parentbased_traceidratio at 1.0, then at 0.1, then with no endpoint
// (the services' default: always-off sampler, ids still made and propagated).
// Each mode restarts the services with its OTEL_* (same pattern as the mTLS
// comparison), then a short warm-up, then the phases. Off runs last so the
// system is left as it was started.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { otelEnvFor } from '../../scripts/lib/system.mjs';
import { moderateRatePerS } from './mtls-compare.mjs';
import * as sc from './scenarios.mjs';

/** The modes, in the order they run. `ratio` null: no endpoint (tracing off). */
export const TRACING_MODES = Object.freeze([
  { key: 'on100', label: 'on, 100 %', ratio: '1.0' },
  { key: 'on10', label: 'on, 10 %', ratio: '0.1' },
  { key: 'off', label: 'off', ratio: null },
]);

/**
 * The services restarted per mode, servers before their callers, the gateway
 * last (its /readyz checks every backend). The identity-service is not on the
 * transfer path (tokens are verified locally against its keys): it stays.
 */
export const TRACING_SERVICE_KEYS = Object.freeze(['bank', 'analytics', 'paymentGatewayMock', 'cardAdapter', 'gateway']);

/** Every OTEL_* variable a mode sets; "off" empties them (empty = unset for the services' config). */
const OTEL_NAMES = ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_SERVICE_NAME', 'OTEL_TRACES_SAMPLER', 'OTEL_TRACES_SAMPLER_ARG'];

/** The env of one service in one mode. */
export function tracingEnvFor(serviceName, mode, endpoint) {
  if (mode.ratio === null) return Object.fromEntries(OTEL_NAMES.map((name) => [name, '']));
  return otelEnvFor(serviceName, {
    endpoint,
    protocol: 'http/protobuf',
    env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: mode.ratio },
  });
}

/** Starts the receiver process; resolves with { url, pid, stats(), stop() }. */
export async function startReceiverProcess({ startTimeoutMs = 10_000 } = {}) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./otlp-receiver-process.mjs', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line)));
  const next = (timeoutMs) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`OTLP receiver process did not answer within ${timeoutMs} ms`)), timeoutMs);
      waiting.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const { url, pid } = await Promise.race([next(startTimeoutMs), exited.then((code) => Promise.reject(new Error(`OTLP receiver process exited (${code})`)))]);
  return {
    url,
    pid,
    async stats() {
      const answer = next(5_000);
      child.stdin.write('stats\n');
      return answer;
    },
    async stop() {
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Restarts the services with a mode's env (+ `extra` per key), in order; tells the sampler their pids; returns seconds. */
async function restartInto({ system, keys, mode, endpoint, sampler, log, extra = {} }) {
  const t0 = Date.now();
  for (const key of keys) {
    const handle = system.processes[key];
    const pid = await system.restart(key, { ...extra[key], ...tracingEnvFor(handle.name, mode, endpoint) });
    sampler.setPids(handle.name, [pid]);
  }
  log(`tracing comparison: ${keys.map((k) => system.processes[k].name).join(', ')} restarted with tracing ${mode.label}`);
  return Math.round((Date.now() - t0) / 100) / 10;
}

/**
 * Runs the comparison on a system the bench started (after the bank variant is
 * restored: `restore` as in the mTLS comparison). Phases per mode: the REST
 * uniform peak at compare.concurrency, then REST open loop at a fixed rate (a
 * third of the first mode's peak). Spans received per phase come from the
 * receiver's count (includes the phase's warm-up window and the export lag).
 */
export async function runTracingCompare({ ctx, system, measure, push, sampler, compare, log, restore = {} }) {
  const keys = TRACING_SERVICE_KEYS.filter((k) => system.processes[k]);
  for (const key of Object.keys(restore)) if (system.processes[key] && !keys.includes(key)) keys.unshift(key);
  const receiver = await startReceiverProcess();
  sampler.setPids('otlp receiver', [receiver.pid]);
  const result = { concurrency: compare.concurrency, services: keys.map((k) => system.processes[k].name), receiver: 'separate process (bench/lib/otlp-receiver-process.mjs), loopback, http/protobuf', modes: {}, restartS: {} };
  const durations = { warmupMs: compare.warmupMs, loadMs: compare.loadMs };
  const modeCtx = { ...ctx, durations };
  try {
    for (const mode of TRACING_MODES) {
      // The bank variant's env goes back with the first restart.
      const extra = mode === TRACING_MODES[0] ? restore : {};
      result.restartS[mode.key] = await restartInto({ system, keys, mode, endpoint: receiver.url, sampler, log, extra });
      await measure(`tracing-${mode.key}-warm-up`, `REST transfers, warm-up with tracing ${mode.label} (not counted)`, () =>
        sc.restUniform({ ...modeCtx, durations: { ...durations, loadMs: compare.restartWarmupMs } }, 32),
      );
      result.modes[mode.key] = {};
      const phase = async (id, title, fn) => {
        const before = (await receiver.stats()).received;
        const row = await measure(id, `${title} [tracing ${mode.label}]`, fn, { tracing: mode.key });
        if (!row) return;
        row.spansReceived = (await receiver.stats()).received - before;
        return push(row);
      };
      const peak = await phase(`tracing-${mode.key}-rest-c${compare.concurrency}`, 'REST transfers, uniform, closed loop', () => sc.restUniform(modeCtx, compare.concurrency));
      if (peak) result.modes[mode.key].restPeak = peak.id;
      result.ratePerS ??= moderateRatePerS(peak?.throughputPerS);
      const rated = await phase(`tracing-${mode.key}-rest-rate${result.ratePerS}`, 'REST transfers, uniform, open loop at a fixed rate', () => sc.restUniformAtRate(modeCtx, result.ratePerS));
      if (rated) result.modes[mode.key].restRate = rated.id;
    }
  } finally {
    result.receiverStats = await receiver.stats().catch(() => undefined);
    await receiver.stop();
    sampler.setPids('otlp receiver', []);
  }
  return result;
}

const f = (v, digits = 1) => (v === undefined || v === null || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
const signed = (v, digits = 1, unit = '') => (v === undefined || v === null || Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)}${unit}`);
const cpuOf = (row, groups) => (row?.cpuMsPerRequest ? groups.reduce((sum, g) => sum + (row.cpuMsPerRequest[g] ?? 0), 0) : undefined);
const allCpu = (row) => (row?.cpuMsPerRequest ? Object.values(row.cpuMsPerRequest).reduce((a, b) => a + b, 0) : undefined);
const perTransfer = (row) => (row && row.spansReceived !== undefined && row.ok > 0 ? row.spansReceived / row.ok : undefined);

/**
 * The comparison as a Markdown table: measure | off | on 10 % | on 100 % | cost at 10 % | cost at 100 %
 * (throughput relative to off; latency and CPU absolute, CPU of all processes also relative).
 * @param {{ tracingCompare?: object, scenarios: object[] }} run  (results.json's shape)
 */
export function tracingTable(run) {
  const cmp = run.tracingCompare;
  if (!cmp) return [];
  const row = (mode, key) => run.scenarios.find((s) => s.id === cmp.modes?.[mode]?.[key]);
  const order = ['off', 'on10', 'on100'];
  const lines = ['| measure | off | on, 10 % | on, 100 % | cost at 10 % | cost at 100 % |', '|---|---|---|---|---|---|'];
  const costs = (value, relative) =>
    ['on10', 'on100'].map((mode) => {
      const on = value(mode);
      const off = value('off');
      if (on === undefined || off === undefined) return '–';
      return relative ? (off ? signed(((on - off) / off) * 100, 1, ' %') : '–') : signed(on - off, 3);
    });
  const throughput = (mode) => row(mode, 'restPeak')?.throughputPerS;
  lines.push(`| REST uniform peak, c = ${cmp.concurrency} (transfers/s) | ${order.map((m) => f(throughput(m))).join(' | ')} | ${costs(throughput, true).join(' | ')} |`);
  for (const p of ['p50Ms', 'p99Ms']) {
    const latency = (mode) => row(mode, 'restRate')?.latency?.[p] ?? undefined;
    lines.push(`| REST at ${cmp.ratePerS ?? '–'}/s (open loop): ${p.slice(0, 3)} ms | ${order.map((m) => f(latency(m), 2)).join(' | ')} | ${costs(latency, false).join(' | ')} |`);
  }
  const groups = ['api-gateway', 'bank-service'];
  const cpuGroups = (mode) => cpuOf(row(mode, 'restPeak'), groups);
  const cpuAll = (mode) => allCpu(row(mode, 'restPeak'));
  lines.push(`| CPU ms per REST transfer at the peak: api-gateway + bank-service | ${order.map((m) => f(cpuGroups(m), 3)).join(' | ')} | ${costs(cpuGroups, false).join(' | ')} |`);
  lines.push(
    `| CPU ms per REST transfer at the peak: all processes (incl. the receiver) | ${order.map((m) => f(cpuAll(m), 3)).join(' | ')} | ${costs(cpuAll, false)
      .map((c, i) => `${c} (${costs(cpuAll, true)[i]})`)
      .join(' | ')} |`,
  );
  const spans = (mode) => perTransfer(row(mode, 'restPeak'));
  lines.push(`| spans received per transfer at the peak (approx.) | ${order.map((m) => f(spans(m), 1)).join(' | ')} | | |`);
  return lines;
}

/** The report section (bench/lib/report.mjs). */
export function tracingSection(run) {
  const cmp = run.tracingCompare;
  if (!cmp) return [];
  return [
    '## Tracing cost (issue 12)',
    '',
    `Same run, same system: ${cmp.services.join(', ')} restarted for each mode: exporting every span over OTLP/HTTP (protobuf) to a receiver in a ` +
      `separate process on loopback with the sampler \`parentbased_traceidratio\` at 1.0, then at 0.1, then with no endpoint (the default: an always-off ` +
      'sampler; trace ids are still made and propagated, so logs correlate). Each mode gets a short warm-up after its restart. The latency rows run open ' +
      `loop at ${cmp.ratePerS ?? '–'}/s (a third of the first mode's REST peak) in every mode. Cost = mode − off. The modes ran one after the other on a ` +
      "shared machine: compare CPU per transfer first, it moves least with the machine's load. Spans per transfer include the phase's warm-up window.",
    '',
    ...tracingTable(run),
    '',
  ];
}
