// Trace export wiring of the one system description (issue 12): with an OTLP
// endpoint every service gets OTEL_* with its own service name; without one,
// no OTEL_* at all (the services' always-off sampler). Pure: nothing is started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePki, type Pki } from '../lib/pki.mjs';
import { describeSystem, otelEnvFor, portsFor } from '../lib/system.mjs';

let pkiDir: string;
let pki: Pki;
beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), 'wallet-otel-pki-'));
  pki = await ensurePki({ dir: pkiDir });
});
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));

const describeWith = (otel?: Parameters<typeof otelEnvFor>[1]) =>
  describeSystem({
    infraEnv: { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/wallet', KAFKA_BROKERS: '127.0.0.1:9092' },
    ports: portsFor({ base: 31_000 }),
    topics: { operations: 'ops', dlq: 'ops.dlq' },
    include: ['identity', 'bank', 'paymentGatewayMock', 'analytics', 'cardAdapter', 'gateway'],
    pki,
    otel,
  });

describe('otel env of the system description', () => {
  it('points every service at the endpoint under its own service name, with extra OTEL_* (sampler) passed on', async () => {
    const system = await describeWith({ endpoint: 'http://127.0.0.1:4318', env: { OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' } });
    for (const service of system.services) {
      expect(service.env).toMatchObject({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_SERVICE_NAME: service.name,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.1',
      });
    }
  });

  it('sets no OTEL_* variable without an endpoint', async () => {
    const system = await describeWith(undefined);
    for (const service of system.services) expect(Object.keys(service.env).filter((k) => k.startsWith('OTEL_'))).toEqual([]);
    expect(otelEnvFor('bank-service', { endpoint: '' })).toEqual({});
  });
});
