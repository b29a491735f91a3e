// Who may read analytics (ADR 0009): the gateway -> analytics hop is mutual
// TLS, and the caller's certificate decides per RPC (src/grpc/callers.ts:
// every RPC, api-gateway only). A client that cannot complete the handshake
// (plaintext, no certificate, another CA, expired) is refused before the
// caller table or any handler sees it; a valid certificate of another service
// gets PERMISSION_DENIED / CALLER_NOT_ALLOWED, counted and logged, and the
// store is never queried.
import { randomUUID } from 'node:crypto';
import { status as Status } from '@grpc/grpc-js';
import { parseGrpcError, type GrpcTransport, type ParsedGrpcError } from '@wallet/platform';
import { uniqueName } from '@wallet/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { rogueClientTransport, testClientTransport, type RogueClientKind } from '../../../../test/support/pki.js';
import { analyticsClient, metricValue, removeChdbPath, startInProcess, tempChdbPath } from '../support/service.js';

const ROGUE_KINDS: RogueClientKind[] = ['plaintext', 'no-certificate', 'other-ca', 'expired'];
const chdbPath = tempChdbPath('mtls');
const topic = uniqueName('analytics-mtls');

let app: Awaited<ReturnType<typeof startInProcess>>;
let storeReads: { operations: ReturnType<typeof vi.fn>; summaries: ReturnType<typeof vi.fn> };

beforeAll(async () => {
  // No topic is created: these calls never need the consumer (it keeps retrying in the background).
  app = await startInProcess({ ANALYTICS_KAFKA_OPERATIONS_TOPIC: topic, ANALYTICS_KAFKA_DLQ_TOPIC: `${topic}.dlq`, ANALYTICS_KAFKA_GROUP_ID: topic, ANALYTICS_CHDB_PATH: chdbPath });
  // Count what reaches the store: a refused call must not get that far.
  storeReads = { operations: vi.spyOn(app.store, 'listOperations'), summaries: vi.spyOn(app.store, 'summarize') } as typeof storeReads;
});

beforeEach(() => {
  storeReads.operations.mockClear();
  storeReads.summaries.mockClear();
});

afterAll(async () => {
  await app?.stop();
  removeChdbPath(chdbPath);
});

async function failureOf(promise: Promise<unknown>): Promise<ParsedGrpcError> {
  try {
    await promise;
  } catch (error) {
    return parseGrpcError(error);
  }
  throw new Error('expected the call to fail');
}

async function deniedText(): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${app.opsPort}/metrics`)).text();
  return text.split('\n').filter((line) => line.startsWith('analytics_grpc_callers_denied_total{')).join('\n');
}

const summaryRequest = () => ({ accountId: randomUUID(), fromTime: new Date('2025-01-01T00:00:00Z'), toTime: new Date('2025-01-08T00:00:00Z') });

/** Both RPCs, each through a fresh client with `transport`. */
const RPCS: Array<{ rpc: string; call: (transport: GrpcTransport) => Promise<unknown> }> = [
  { rpc: 'getOperations', call: (transport) => withClient(transport, (c) => c.getOperations({ accountId: randomUUID(), pageSize: 10 })) },
  { rpc: 'getAccountSummary', call: (transport) => withClient(transport, (c) => c.getAccountSummary(summaryRequest())) },
];

async function withClient<T>(transport: GrpcTransport, use: (client: ReturnType<typeof analyticsClient>) => Promise<T>): Promise<T> {
  const client = analyticsClient(app.grpcPort, transport);
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

describe('gateway -> analytics: a client that cannot complete the mutual-TLS handshake is refused', () => {
  it.each(ROGUE_KINDS)('%s -> UNAVAILABLE; neither the caller table nor the store saw it', async (kind) => {
    const deniedBefore = await deniedText();
    const transport = await rogueClientTransport(kind, 'analytics-service', 'api-gateway');
    for (const { call } of RPCS) {
      const failure = await failureOf(call(transport));
      expect(failure.code).toBe(Status.UNAVAILABLE);
      expect(failure.reason).toBeUndefined();
    }
    expect(storeReads.operations).not.toHaveBeenCalled();
    expect(storeReads.summaries).not.toHaveBeenCalled();
    expect(await deniedText()).toBe(deniedBefore);
  });
});

describe('gateway -> analytics: the caller table', () => {
  it.each(RPCS)('a bank-card-adapter certificate calling $rpc gets PERMISSION_DENIED / CALLER_NOT_ALLOWED, counted, store untouched', async ({ rpc, call }) => {
    const metricsBefore = await (await fetch(`http://127.0.0.1:${app.opsPort}/metrics`)).text();
    const labels = { rpc, caller: 'bank-card-adapter' };
    const failure = await failureOf(call(await testClientTransport('analytics-service', 'bank-card-adapter')));
    expect({ code: failure.code, reason: failure.reason, domain: failure.domain }).toEqual({ code: Status.PERMISSION_DENIED, reason: 'CALLER_NOT_ALLOWED', domain: 'analytics.wallet' });
    expect(failure.metadata).toMatchObject({ caller: 'bank-card-adapter' });
    expect(storeReads.operations).not.toHaveBeenCalled();
    expect(storeReads.summaries).not.toHaveBeenCalled();
    const metricsAfter = await (await fetch(`http://127.0.0.1:${app.opsPort}/metrics`)).text();
    expect(metricValue(metricsAfter, 'analytics_grpc_callers_denied_total', labels)).toBe(metricValue(metricsBefore, 'analytics_grpc_callers_denied_total', labels) + 1);
  });

  it('the api-gateway certificate is served by both RPCs', async () => {
    const gateway = await testClientTransport('analytics-service', 'api-gateway');
    const deniedBefore = await deniedText();
    await withClient(gateway, async (client) => {
      expect((await client.getOperations({ accountId: randomUUID(), pageSize: 10 })).operations).toEqual([]);
      expect(await client.getAccountSummary(summaryRequest())).toBeDefined();
    });
    expect(storeReads.operations).toHaveBeenCalledTimes(1);
    expect(storeReads.summaries).toHaveBeenCalledTimes(1);
    expect(await deniedText()).toBe(deniedBefore);
  });
});
