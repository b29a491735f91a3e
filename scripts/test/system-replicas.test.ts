// Replicas in the one description of the system (scripts/lib/system.mjs, issue 13):
// instance keys, the port layout, the env each replica gets and HAProxy's part.
// Pure: nothing is started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePki, type Pki } from '../lib/pki.mjs';
import {
  DEFAULT_PORTS,
  describeSystem,
  freePorts,
  freeReplicaPorts,
  parseReplicas,
  portsFor,
  replicaPortsFor,
  REPLICAS_MAX,
  type DescribeOptions,
  type Ports,
} from '../lib/system.mjs';

const topics = { operations: 'ops', dlq: 'ops.dlq' };
const infraEnv = { DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/wallet', KAFKA_BROKERS: '127.0.0.1:9092', CLICKHOUSE_URL: 'http://127.0.0.1:8123' };
let pkiDir: string;
let pki: Pki;
beforeAll(async () => {
  pkiDir = mkdtempSync(join(tmpdir(), 'wallet-replicas-pki-'));
  pki = await ensurePki({ dir: pkiDir });
});
afterAll(() => rmSync(pkiDir, { recursive: true, force: true }));
const ALL = ['identity', 'bank', 'paymentGatewayMock', 'analytics', 'cardAdapter', 'gateway'] as const;
const describeAt = (ports: Ports, extra: Partial<DescribeOptions> = {}) => describeSystem({ infraEnv, ports, topics, include: [...ALL], pki, ...extra });

/** Every port any instance or HAProxy listens on. */
async function listeningPorts(ports: Ports, replicas: number, replicaPorts?: Ports[]): Promise<number[]> {
  const system = await describeAt(ports, { replicas, ...(replicaPorts ? { replicaPorts } : {}) });
  const lb = system.loadBalancer;
  const lbPorts = lb ? [lb.statsPort, ...Object.values(lb.frontends).map((f) => f.port)] : [];
  const servicePorts = system.services.flatMap((s) => Object.entries(s.env).filter(([name]) => /_PORT$/.test(name)).map(([, v]) => Number(v)));
  return [...lbPorts, ...servicePorts, ports.postgres, ports.kafka, ports.kafkaController];
}

describe('replicas in the system description', () => {
  it('with one replica (the default) describes today\'s system: no load balancer, no replica env, service keys as before', async () => {
    const implicit = await describeAt(DEFAULT_PORTS);
    const explicit = await describeAt(DEFAULT_PORTS, { replicas: 1 });
    expect(explicit).toEqual(implicit);
    expect(implicit.loadBalancer).toBeUndefined();
    expect(implicit.services.map((s) => s.key)).toEqual([...ALL]);
    expect(implicit.services.every((s) => s.replica === 1 && s.instanceName === s.name && s.serviceKey === s.key)).toBe(true);
    const gateway = implicit.services.find((s) => s.key === 'gateway')!;
    expect(gateway.env).toMatchObject({ GATEWAY_HTTP_PORT: '8080', GATEWAY_BANK_GRPC_ADDRESS: '127.0.0.1:50051', GATEWAY_ANALYTICS_GRPC_ADDRESS: '127.0.0.1:50053' });
    // No load balancer to notice a drain: the gateway stops at once.
    expect(gateway.env.GATEWAY_DRAIN_MS).toBe('0');
    const envNames = implicit.services.flatMap((s) => Object.keys(s.env));
    expect(envNames.filter((n) => n === 'BANK_REPLICA_ID' || n === 'ANALYTICS_KAFKA_GROUP_INSTANCE_ID' || n === 'OTEL_RESOURCE_ATTRIBUTES')).toEqual([]);
    expect(implicit.baseUrl).toBe('http://127.0.0.1:8080');
  });

  it('runs N instances of each of our services keyed bank, bank.2..., one payment gateway mock, and names replicas in their env', async () => {
    const system = await describeAt(DEFAULT_PORTS, { replicas: 3 });
    expect(system.instances.bank).toEqual(['bank', 'bank.2', 'bank.3']);
    expect(system.instances.paymentGatewayMock).toEqual(['paymentGatewayMock']);
    const bank3 = system.services.find((s) => s.key === 'bank.3')!;
    expect(bank3).toMatchObject({ serviceKey: 'bank', replica: 3, name: 'bank-service', instanceName: 'bank-service.3' });
    expect(bank3.env).toMatchObject({ BANK_REPLICA_ID: '3', BANK_GRPC_PORT: '50091', BANK_OPS_PORT: '9141' });
    // Same certificate for every replica: the name is the service's identity (mutual TLS).
    expect(bank3.env.TLS_CERT_FILE).toBe(pki.services['bank-service']!.certFile);
    const analytics = system.services.filter((s) => s.serviceKey === 'analytics');
    expect(analytics.map((s) => s.env.ANALYTICS_KAFKA_GROUP_INSTANCE_ID)).toEqual(['analytics-service-1', 'analytics-service-2', 'analytics-service-3']);
    expect(analytics.every((s) => s.env.CLICKHOUSE_URL === infraEnv.CLICKHOUSE_URL)).toBe(true);
    // A dependant waits for every replica of what it depends on.
    expect(system.services.find((s) => s.key === 'cardAdapter.2')!.dependsOn).toEqual(['identity', 'identity.2', 'identity.3', 'bank', 'bank.2', 'bank.3', 'paymentGatewayMock']);
  });

  it('gives the gateways and card adapters every replica of each gRPC backend, and keeps the issuer and base URL on HAProxy', async () => {
    const system = await describeAt(DEFAULT_PORTS, { replicas: 2 });
    const banks = '127.0.0.1:50051,127.0.0.1:50071';
    for (const gateway of system.services.filter((s) => s.serviceKey === 'gateway')) {
      expect(gateway.env).toMatchObject({
        GATEWAY_BANK_GRPC_ADDRESS: banks,
        GATEWAY_CARD_ADAPTER_GRPC_ADDRESS: '127.0.0.1:50052,127.0.0.1:50072',
        GATEWAY_ANALYTICS_GRPC_ADDRESS: '127.0.0.1:50053,127.0.0.1:50073',
        GATEWAY_IDENTITY_URL: 'https://127.0.0.1:8090',
        // Serves while HAProxy's checks (500 ms, 2 failures) take it out of rotation.
        GATEWAY_DRAIN_MS: '1500',
      });
    }
    for (const adapter of system.services.filter((s) => s.serviceKey === 'cardAdapter')) expect(adapter.env.CARD_ADAPTER_BANK_GRPC_ADDRESS).toBe(banks);
    for (const identity of system.services.filter((s) => s.serviceKey === 'identity')) expect(identity.env.IDENTITY_ISSUER).toBe('https://127.0.0.1:8090');
    expect(system.grpcAddresses.bank).toBe(banks);
    expect(system.baseUrl).toBe('http://127.0.0.1:8080');
    expect(system.issuer).toBe('https://127.0.0.1:8090');
  });

  it('puts HAProxy on the gateway and identity ports: gateways checked on /readyz, identities on their ops port', async () => {
    const { loadBalancer } = await describeAt(DEFAULT_PORTS, { replicas: 2 });
    expect(loadBalancer).toMatchObject({ statsPort: 8404, statsUrl: 'http://127.0.0.1:8404/stats', metricsUrl: 'http://127.0.0.1:8404/metrics' });
    expect(loadBalancer!.frontends.gateway).toEqual({
      port: 8080,
      mode: 'http',
      backends: [
        { key: 'gateway', port: 8100, checkPort: 8100, checkPath: '/readyz' },
        { key: 'gateway.2', port: 8120, checkPort: 8120, checkPath: '/readyz' },
      ],
    });
    expect(loadBalancer!.frontends.identity).toEqual({
      port: 8090,
      mode: 'tcp',
      backends: [
        { key: 'identity', port: 8110, checkPort: 9105, checkPath: '/readyz' },
        { key: 'identity.2', port: 8130, checkPort: 9125, checkPath: '/readyz' },
      ],
    });
  });

  it('lays out distinct ports for up to 8 replicas in the default and port-base layouts', async () => {
    for (const ports of [DEFAULT_PORTS, portsFor({ base: 30_000 })]) {
      for (const replicas of [2, REPLICAS_MAX]) {
        const all = await listeningPorts(ports, replicas);
        expect(new Set(all).size, `${ports.gatewayHttp} x${replicas}`).toBe(all.length);
      }
    }
    // The stride rule: replica r on port + 20 (r - 1); the load-balanced ports + 20 r.
    const [, second] = replicaPortsFor(portsFor({ base: 30_000 }), 2);
    expect(second).toMatchObject({ bankGrpc: 30_021, bankOps: 30_025, gatewayHttp: 30_040, identityHttp: 30_048, identityOps: 30_029, postgres: 30_010 });
    expect(() => replicaPortsFor(portsFor({ base: 65_500 }), 2)).toThrow(/lower --port-base/);
  });

  it('takes free ports for every instance (tests), distinct from the run\'s ports', async () => {
    const ports = await freePorts();
    const replicaPorts = await freeReplicaPorts(ports, 2);
    const all = await listeningPorts(ports, 2, replicaPorts);
    expect(new Set(all).size).toBe(all.length);
    const system = await describeAt(ports, { replicas: 2, replicaPorts });
    expect(system.loadBalancer!.frontends.gateway!.port).toBe(ports.gatewayHttp);
    expect(system.services.find((s) => s.key === 'bank.2')!.ports.grpc).toBe(replicaPorts[1]!.bankGrpc);
  });

  it('runs fewer instances of a service when told (serviceReplicas), still behind HAProxy', async () => {
    const system = await describeAt(DEFAULT_PORTS, { replicas: 2, serviceReplicas: { bank: 1, analytics: 1 }, infraEnv: { DATABASE_URL: 'x', KAFKA_BROKERS: 'y' } });
    expect(system.instances.bank).toEqual(['bank']);
    expect(system.instances.gateway).toEqual(['gateway', 'gateway.2']);
    expect(system.grpcAddresses).toMatchObject({ bank: '127.0.0.1:50051', cardAdapter: '127.0.0.1:50052,127.0.0.1:50072' });
    expect(system.services.find((s) => s.key === 'gateway.2')!.dependsOn).toContain('bank');
    expect(system.loadBalancer!.frontends.gateway!.backends).toHaveLength(2);
    await expect(describeAt(DEFAULT_PORTS, { replicas: 2, serviceReplicas: { bank: 3 } })).rejects.toThrow(/serviceReplicas.bank must be an integer 1-2/);
  });

  it('applies extra env per service to every replica and per instance key to one', async () => {
    const system = await describeAt(DEFAULT_PORTS, { replicas: 2, env: { bank: { LOG_LEVEL: 'debug' }, 'bank.2': { LOG_LEVEL: 'warn' } } });
    expect(system.services.filter((s) => s.serviceKey === 'bank').map((s) => s.env.LOG_LEVEL)).toEqual(['debug', 'warn']);
  });

  it('refuses analytics replicas without a shared ClickHouse engine, and replica counts outside 1-8', async () => {
    await expect(describeAt(DEFAULT_PORTS, { replicas: 2, infraEnv: { DATABASE_URL: 'x', KAFKA_BROKERS: 'y' } })).rejects.toThrow(/CLICKHOUSE_URL/);
    await expect(describeAt(DEFAULT_PORTS, { replicas: 9 })).rejects.toThrow(/1-8/);
    expect(parseReplicas('2')).toBe(2);
    expect(parseReplicas(undefined)).toBe(1);
    for (const bad of ['0', '9', '1.5', 'two', '-1']) expect(() => parseReplicas(bad, 'WALLET_REPLICAS')).toThrow(/WALLET_REPLICAS must be an integer 1-8/);
  });
});
