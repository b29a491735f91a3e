// Client-side balancing over real gRPC servers on loopback with mutual TLS (the
// test PKI: every replica's certificate names bank-service, whatever its port):
// round_robin over a replica list, health-aware resolution (grpc.health.v1),
// and the service config's retry policy per method.
import { makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  callUnary,
  createGrpcClient,
  grpcServiceConfig,
  isServiceError,
  parseGrpcTarget,
  richError,
  startGrpcServer,
  type GrpcTransport,
  type RunningGrpcServer,
} from '@wallet/platform';
import { testClientTransport, testGrpcSecurity } from '../../../../test/support/pki.js';

const SERVICE = 'wallet.test.v1.Replica';
const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (buffer: Buffer): unknown => JSON.parse(buffer.toString()) as unknown,
};
function unary(name: string) {
  return {
    path: `/${SERVICE}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
    originalName: name,
  };
}
const definition = { read: unary('Read'), write: unary('Write') };
type Unary = Parameters<typeof callUnary>[1];
type ReplicaClient = Client & { read: Unary; write: Unary };
const ReplicaClient = makeGenericClientConstructor(definition, 'Replica');

const serviceConfig = grpcServiceConfig({
  service: SERVICE,
  retryable: { Read: 'a read: sending it twice changes nothing' },
  notRetried: { Write: 'stands for a mutating RPC whose replay the server does not answer with the first answer' },
});

interface Replica {
  index: number;
  server: RunningGrpcServer;
  /** Handler runs per method (every attempt that reached the application). */
  calls: { Read: number; Write: number };
  /** 'unavailable': the handler answers UNAVAILABLE (health still SERVING). */
  mode: 'ok' | 'unavailable';
}

let replicas: Replica[] = [];
let transport: GrpcTransport;
const clients: Client[] = [];

async function startReplica(index: number): Promise<Replica> {
  const security = await testGrpcSecurity('bank-service');
  const replica = { index, calls: { Read: 0, Write: 0 }, mode: 'ok' } as Replica;
  const handle = (method: 'Read' | 'Write') => (_call: unknown, callback: (error: ServiceError | null, value?: unknown) => void) => {
    replica.calls[method] += 1;
    if (replica.mode === 'unavailable') callback(richError({ code: status.UNAVAILABLE, reason: 'STORAGE_UNAVAILABLE', domain: 'test', message: `replica ${index} unavailable` }));
    else callback(null, { replica: index });
  };
  replica.server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    credentials: security.serverCredentials(),
    services: [{ name: SERVICE, definition, implementation: { read: handle('Read'), write: handle('Write') } }],
  });
  return replica;
}

function newClient(options: { probeIntervalMs?: number } = {}): ReplicaClient {
  const target = parseGrpcTarget(replicas.map((r) => `127.0.0.1:${r.server.port}`).join(','));
  const client = createGrpcClient(ReplicaClient, target, transport, {
    serviceConfig,
    healthCheck: { probeIntervalMs: options.probeIntervalMs ?? 200, probeTimeoutMs: 500 },
  }) as unknown as ReplicaClient;
  clients.push(client);
  return client;
}

async function read(client: ReplicaClient): Promise<number> {
  const answer = (await callUnary(client, client.read, {}, { timeoutMs: 5_000 })) as { replica: number };
  return answer.replica;
}

/** Which replica answered each of `count` sequential reads. */
async function readMany(client: ReplicaClient, count: number): Promise<number[]> {
  const answered: number[] = [];
  for (let i = 0; i < count; i += 1) answered.push(await read(client));
  return answered;
}

/** Waits until every replica in `indexes` has answered within one round of reads (all connections up). */
async function waitForSpread(client: ReplicaClient, indexes: number[]): Promise<void> {
  await vi.waitFor(
    async () => {
      const answered = new Set(await readMany(client, indexes.length * 3));
      expect([...answered].sort()).toEqual([...indexes].sort());
    },
    { timeout: 10_000, interval: 50 },
  );
}

beforeAll(async () => {
  transport = await testClientTransport('bank-service', 'api-gateway');
});

beforeEach(async () => {
  replicas = await Promise.all([0, 1, 2].map((i) => startReplica(i)));
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(replicas.map((r) => r.server.shutdown(500)));
});

describe('a client built with grpcServiceConfig over a replica list', () => {
  it('spreads calls over every replica (round_robin), each checked by mTLS against the service name', async () => {
    const client = newClient();
    await waitForSpread(client, [0, 1, 2]);
    const answered = await readMany(client, 30);
    for (const index of [0, 1, 2]) expect(answered.filter((r) => r === index).length).toBeGreaterThanOrEqual(5);
  });

  it('stops sending to a replica whose health turns NOT_SERVING, and sends to it again once SERVING', async () => {
    const client = newClient();
    await waitForSpread(client, [0, 1, 2]);
    replicas[1]!.server.health.setStatus('', 'NOT_SERVING');
    // Bounded: the probe interval (200 ms) plus the probe deadline; 5 s leaves room for a loaded machine.
    await vi.waitFor(async () => expect(await readMany(client, 12)).not.toContain(1), { timeout: 5_000, interval: 50 });
    const before = replicas[1]!.calls.Read;
    expect(new Set(await readMany(client, 30))).toEqual(new Set([0, 2]));
    expect(replicas[1]!.calls.Read).toBe(before);

    replicas[1]!.server.health.setStatus('', 'SERVING');
    await waitForSpread(client, [0, 1, 2]);
  });

  it('stops sending to a killed replica and every read still succeeds', async () => {
    const client = newClient();
    await waitForSpread(client, [0, 1, 2]);
    replicas[2]!.server.server.forceShutdown();
    // Reads right after the kill may meet the dying connection: the retry policy sends them to another replica.
    const answered = await readMany(client, 30);
    expect(answered).not.toContain(2);
    expect(new Set(answered)).toEqual(new Set([0, 1]));
  });

  it('retries a read that got UNAVAILABLE on another replica', async () => {
    const client = newClient();
    await waitForSpread(client, [0, 1, 2]);
    replicas[0]!.mode = 'unavailable';
    const attemptsBefore = replicas[0]!.calls.Read;
    const answered = await readMany(client, 12);
    expect(answered).not.toContain(0);
    // The failing replica was tried (and refused) but every read got its answer elsewhere.
    expect(replicas[0]!.calls.Read).toBeGreaterThan(attemptsBefore);
  });

  it('does not retry a method listed as not retried: one attempt, UNAVAILABLE to the caller', async () => {
    const client = newClient();
    await waitForSpread(client, [0, 1, 2]);
    for (const replica of replicas) replica.mode = 'unavailable';
    const error = await callUnary(client, client.write, {}, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(isServiceError(error) && error.code).toBe(status.UNAVAILABLE);
    expect(replicas.reduce((sum, r) => sum + r.calls.Write, 0)).toBe(1);
  });

  it('retries a read at most maxAttempts (3) times', async () => {
    const client = newClient();
    await waitForSpread(client, [0, 1, 2]);
    for (const replica of replicas) replica.mode = 'unavailable';
    const readsBefore = replicas.reduce((sum, r) => sum + r.calls.Read, 0);
    const error = await callUnary(client, client.read, {}, { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(isServiceError(error) && error.code).toBe(status.UNAVAILABLE);
    expect(replicas.reduce((sum, r) => sum + r.calls.Read, 0) - readsBefore).toBe(3);
  });

  it('fails fast with UNAVAILABLE when no replica is SERVING', async () => {
    const client = newClient();
    await waitForSpread(client, [0, 1, 2]);
    for (const replica of replicas) replica.server.health.setStatus('', 'NOT_SERVING');
    await vi.waitFor(
      async () => {
        const error = await read(client).catch((e: unknown) => e);
        expect(isServiceError(error) && error.code).toBe(status.UNAVAILABLE);
        expect((error as ServiceError).details).toMatch(/no SERVING backend/);
      },
      { timeout: 5_000, interval: 50 },
    );
    expect(replicas.reduce((sum, r) => sum + r.calls.Read, 0)).toBeGreaterThan(0);
  });
});

describe('other address forms', () => {
  it('balances a list of host names (wallet-list resolver, each name looked up) with health checks', async () => {
    const target = parseGrpcTarget(replicas.map((r) => `localhost:${r.server.port}`).join(','));
    expect(target).toMatch(/^wallet-list:/);
    const client = createGrpcClient(ReplicaClient, target, transport, { serviceConfig, healthCheck: { probeIntervalMs: 200 } }) as unknown as ReplicaClient;
    clients.push(client);
    await waitForSpread(client, [0, 1, 2]);
  });

  it('reaches a dns:/// target (compose, a Kubernetes headless Service) through the health-aware resolver', async () => {
    const target = parseGrpcTarget(`dns:///localhost:${replicas[0]!.server.port}`);
    const client = createGrpcClient(ReplicaClient, target, transport, { serviceConfig, healthCheck: { probeIntervalMs: 200 } }) as unknown as ReplicaClient;
    clients.push(client);
    await vi.waitFor(async () => expect(await read(client)).toBe(0), { timeout: 10_000, interval: 50 });
  });

  it('balances a replica list round_robin even without a service config (no retries, no health probing)', async () => {
    const target = parseGrpcTarget(replicas.map((r) => `127.0.0.1:${r.server.port}`).join(','));
    const client = createGrpcClient(ReplicaClient, target, transport) as unknown as ReplicaClient;
    clients.push(client);
    await waitForSpread(client, [0, 1, 2]);
  });
});

describe('createGrpcClient with a service config', () => {
  it('refuses a retry table that leaves a method of the client undecided', async () => {
    const partial = grpcServiceConfig({ service: SERVICE, retryable: { Read: 'a read' }, notRetried: {} });
    expect(() => createGrpcClient(ReplicaClient, '127.0.0.1:1', transport, { serviceConfig: partial })).toThrow(/no retry decision for Write/);
  });

  it('refuses unbounded health probe settings', () => {
    expect(() => createGrpcClient(ReplicaClient, '127.0.0.1:1', transport, { serviceConfig, healthCheck: { probeIntervalMs: 0 } })).toThrow(/probeIntervalMs/);
    expect(() => createGrpcClient(ReplicaClient, '127.0.0.1:1', transport, { serviceConfig, healthCheck: { probeTimeoutMs: 60_000 } })).toThrow(/probeTimeoutMs/);
  });
});

