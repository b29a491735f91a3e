// The bench's mTLS on/off comparison (issue 11), pure parts: the fixed rate,
// the env of the plaintext half and the cost arithmetic of its table.
import { describe, expect, it } from 'vitest';
import { moderateRatePerS, mtlsSection, mtlsTable, plaintextEnvFor, PLAINTEXT_SERVICE_KEYS } from '../../bench/lib/mtls-compare.mjs';

describe('moderateRatePerS', () => {
  it('is a third of the mTLS-on REST peak, within bounds', () => {
    expect(moderateRatePerS(450)).toBe(150);
    expect(moderateRatePerS(3_000)).toBe(300);
    expect(moderateRatePerS(12)).toBe(10);
    expect(moderateRatePerS(undefined)).toBe(10);
  });
});

describe('plaintextEnvFor', () => {
  it('sets the bench hook, unsets the TLS files, trusts the CA for https hops and turns the payment gateway URL to http', () => {
    const env = plaintextEnvFor({ env: { TLS_CA_FILE: '/p/ca.pem', CARD_ADAPTER_PAYMENT_GATEWAY_URL: 'https://127.0.0.1:9104', OTHER_URL: 'https://x' } }, { caFile: '/p/ca.pem' });
    expect(env).toEqual({
      WALLET_TEST_GRPC_PLAINTEXT: 'true',
      TLS_CA_FILE: '',
      TLS_CERT_FILE: '',
      TLS_KEY_FILE: '',
      NODE_EXTRA_CA_CERTS: '/p/ca.pem',
      CARD_ADAPTER_PAYMENT_GATEWAY_URL: 'http://127.0.0.1:9104',
    });
  });

  it('restarts servers before their callers and the gateway last; identity keeps its TLS', () => {
    expect(PLAINTEXT_SERVICE_KEYS.at(-1)).toBe('gateway');
    expect(PLAINTEXT_SERVICE_KEYS.indexOf('bank')).toBeLessThan(PLAINTEXT_SERVICE_KEYS.indexOf('cardAdapter'));
    expect(PLAINTEXT_SERVICE_KEYS.indexOf('paymentGatewayMock')).toBeLessThan(PLAINTEXT_SERVICE_KEYS.indexOf('cardAdapter'));
    expect(PLAINTEXT_SERVICE_KEYS).not.toContain('identity');
  });
});

describe('mtlsTable', () => {
  const row = (id: string, throughputPerS: number, p50Ms: number, p99Ms: number, cpu: Record<string, number>) => ({
    id,
    throughputPerS,
    latency: { p50Ms, p99Ms },
    cpuMsPerRequest: cpu,
    loadAvg: { before: 2, after: 3 },
  });
  const run = {
    mtlsCompare: {
      concurrency: 128,
      ratePerS: 150,
      restartS: 12.5,
      services: ['bank-service', 'api-gateway'],
      on: { restPeak: 'on-rest', grpcPeak: 'on-grpc', restRate: 'on-rest-rate', grpcRate: 'on-grpc-rate' },
      off: { restPeak: 'off-rest', grpcPeak: 'off-grpc', restRate: 'off-rest-rate', grpcRate: 'off-grpc-rate' },
    },
    scenarios: [
      row('on-rest', 450, 200, 400, { 'api-gateway': 1.2, 'bank-service': 1.0, postgres: 0.8 }),
      row('off-rest', 500, 180, 380, { 'api-gateway': 1.0, 'bank-service': 0.9, postgres: 0.8 }),
      row('on-grpc', 600, 150, 300, { 'bench (load generator)': 0.5, 'bank-service': 1.0 }),
      row('off-grpc', 600, 150, 300, { 'bench (load generator)': 0.4, 'bank-service': 0.9 }),
      row('on-rest-rate', 150, 20, 60, {}),
      row('off-rest-rate', 150, 18, 50, {}),
      row('on-grpc-rate', 150, 10, 30, {}),
      row('off-grpc-rate', 150, 9.5, 31, {}),
    ],
  };

  it('states both halves and the cost of mTLS against off (throughput relative, latency and CPU absolute)', () => {
    const lines = mtlsTable(run);
    expect(lines[2]).toBe('| REST uniform peak, c = 128 (transfers/s) | 450.0 | 500.0 | −10.0 % throughput |');
    expect(lines[3]).toBe('| gRPC direct to the bank, c = 128 (transfers/s) | 600.0 | 600.0 | +0.0 % throughput |');
    expect(lines[4]).toBe('| REST at 150/s (open loop): p50 / p99 ms | 20.00 / 60.00 | 18.00 / 50.00 | +2.00 / +10.00 ms |');
    expect(lines[5]).toBe('| gRPC direct at 150/s (open loop): p50 / p99 ms | 10.00 / 30.00 | 9.50 / 31.00 | +0.50 / −1.00 ms |');
    // 3.0 ms on against 2.7 ms off in all processes: +0.3 ms, +11.1 %.
    expect(lines[6]).toBe(
      '| CPU ms per REST transfer at the peak: api-gateway / bank-service / all processes | 1.200 / 1.000 / 3.000 | 1.000 / 0.900 / 2.700 | +0.200 / +0.100 / +0.300 ms (+11.1 %) |',
    );
    expect(lines.at(-1)).toBe('| load average (1 min) during the phases | 2.0 – 3.0 | 2.0 – 3.0 | |');
  });

  it('shows a dash for a half that did not run, and nothing without a comparison', () => {
    const partial = { ...run, mtlsCompare: { ...run.mtlsCompare, off: {} } };
    expect(mtlsTable(partial)[2]).toBe('| REST uniform peak, c = 128 (transfers/s) | 450.0 | – | – |');
    expect(mtlsTable({ scenarios: [] })).toEqual([]);
    expect(mtlsSection({ scenarios: [] })).toEqual([]);
    expect(mtlsSection(run)[0]).toBe('## mTLS cost (issue 11)');
  });
});
