// The bench's tracing off / 10 % / 100 % comparison (issue 12), pure parts:
// the env of each mode, the order of the modes, the cost arithmetic of its
// table; and the receiver process it exports to (started, counts, stops).
import { describe, expect, it } from 'vitest';
import { startReceiverProcess, TRACING_MODES, TRACING_SERVICE_KEYS, tracingEnvFor, tracingSection, tracingTable } from '../../bench/lib/tracing-compare.mjs';

describe('tracingEnvFor', () => {
  it('points a service at the receiver with parentbased_traceidratio and the mode ratio, under its own name', () => {
    expect(tracingEnvFor('bank-service', TRACING_MODES.find((m) => m.key === 'on10')!, 'http://127.0.0.1:4318')).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
      OTEL_SERVICE_NAME: 'bank-service',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.1',
    });
  });

  it('empties every OTEL_* variable for off (empty = unset: the always-off default)', () => {
    const env = tracingEnvFor('bank-service', TRACING_MODES.find((m) => m.key === 'off')!, 'http://127.0.0.1:4318');
    expect(Object.values(env).every((v) => v === '')).toBe(true);
    expect(Object.keys(env)).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
  });

  it('runs 100 %, 10 %, then off (the system is left as started), restarting servers before callers and the gateway last', () => {
    expect(TRACING_MODES.map((m) => m.key)).toEqual(['on100', 'on10', 'off']);
    expect(TRACING_SERVICE_KEYS.at(-1)).toBe('gateway');
    expect(TRACING_SERVICE_KEYS.indexOf('bank')).toBeLessThan(TRACING_SERVICE_KEYS.indexOf('cardAdapter'));
  });
});

describe('tracingTable', () => {
  const row = (id: string, throughputPerS: number, p50Ms: number, p99Ms: number, cpu: Record<string, number>, ok = 1000, spansReceived?: number) => ({
    id,
    ok,
    throughputPerS,
    latency: { p50Ms, p99Ms },
    cpuMsPerRequest: cpu,
    spansReceived,
  });
  const run = {
    tracingCompare: {
      concurrency: 128,
      ratePerS: 150,
      services: ['bank-service', 'api-gateway'],
      modes: {
        off: { restPeak: 'off-peak', restRate: 'off-rate' },
        on10: { restPeak: 'on10-peak', restRate: 'on10-rate' },
        on100: { restPeak: 'on100-peak', restRate: 'on100-rate' },
      },
    },
    scenarios: [
      row('off-peak', 500, 200, 400, { 'api-gateway': 1.0, 'bank-service': 1.0, postgres: 1.0 }, 1000, 0),
      row('on10-peak', 480, 205, 410, { 'api-gateway': 1.05, 'bank-service': 1.05, postgres: 1.0 }, 1000, 1_500),
      row('on100-peak', 400, 250, 500, { 'api-gateway': 1.5, 'bank-service': 1.5, postgres: 1.0, 'otlp receiver': 0.5 }, 1000, 15_000),
      row('off-rate', 150, 10, 30, {}),
      row('on10-rate', 150, 10.5, 31, {}),
      row('on100-rate', 150, 12, 40, {}),
    ],
  };

  it('states off, 10 % and 100 % and the cost of each against off', () => {
    const lines = tracingTable(run);
    expect(lines[0]).toBe('| measure | off | on, 10 % | on, 100 % | cost at 10 % | cost at 100 % |');
    expect(lines[2]).toBe('| REST uniform peak, c = 128 (transfers/s) | 500.0 | 480.0 | 400.0 | −4.0 % | −20.0 % |');
    expect(lines[3]).toBe('| REST at 150/s (open loop): p50 ms | 10.00 | 10.50 | 12.00 | +0.500 | +2.000 |');
    expect(lines[4]).toBe('| REST at 150/s (open loop): p99 ms | 30.00 | 31.00 | 40.00 | +1.000 | +10.000 |');
    expect(lines[5]).toBe('| CPU ms per REST transfer at the peak: api-gateway + bank-service | 2.000 | 2.100 | 3.000 | +0.100 | +1.000 |');
    // 4.5 ms against 3.0 ms in all processes (the receiver included): +1.5 ms, +50 %.
    expect(lines[6]).toBe('| CPU ms per REST transfer at the peak: all processes (incl. the receiver) | 3.000 | 3.100 | 4.500 | +0.100 (+3.3 %) | +1.500 (+50.0 %) |');
    expect(lines[7]).toBe('| spans received per transfer at the peak (approx.) | 0.0 | 1.5 | 15.0 | | |');
  });

  it('shows a dash for a mode that did not run, and nothing without a comparison', () => {
    const partial = { ...run, tracingCompare: { ...run.tracingCompare, modes: { on100: run.tracingCompare.modes.on100 } } };
    expect(tracingTable(partial)[2]).toBe('| REST uniform peak, c = 128 (transfers/s) | – | – | 400.0 | – | – |');
    expect(tracingTable({ scenarios: [] })).toEqual([]);
    expect(tracingSection({ scenarios: [] })).toEqual([]);
    expect(tracingSection(run)[0]).toBe('## Tracing cost (issue 12)');
  });
});

describe('startReceiverProcess', () => {
  it('starts the receiver in its own process, counts what it receives and stops', async () => {
    const receiver = await startReceiverProcess();
    try {
      expect(receiver.pid).not.toBe(process.pid);
      const res = await fetch(`${receiver.url}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: '00f067aa0ba902b7', name: 'x' }] }] }] }),
      });
      expect(res.status).toBe(200);
      expect(await receiver.stats()).toEqual({ received: 1, rejected: 0 });
    } finally {
      await receiver.stop();
    }
  });
});
