// `npm run trace`'s pure parts (scripts/lib/trace-tree.mjs) on fixture spans:
// finding a trace by request id or trace id, the tree's order and its lines.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FlatSpan } from '../lib/otlp-receiver.mjs';
import { buildTree, formatTrace, traceIdsFor } from '../lib/trace-tree.mjs';

const T1 = '0af7651916cd43dd8448eb211c80319c';
const T2 = '4bf92f3577b34da6a3ce929d0e0e4736';

function span(spanId: string, parentSpanId: string | null, name: string, startMs: number, durationMs: number, extra: Partial<FlatSpan> = {}): FlatSpan {
  const startNs = BigInt(1_764_644_400_000 + startMs) * 1_000_000n;
  return {
    traceId: T1,
    spanId,
    parentSpanId,
    name,
    kind: 'INTERNAL',
    service: 'bank-service',
    scope: 'test',
    startTimeUnixNano: String(startNs),
    endTimeUnixNano: String(startNs + BigInt(durationMs * 1_000_000)),
    durationMs,
    attributes: {},
    events: [],
    links: [],
    status: { code: 'UNSET' },
    resource: {},
    ...extra,
  };
}

const fixture: FlatSpan[] = [
  // Out of order on purpose: the tree orders children by start time.
  span('00000000000000c2', '00000000000000a1', 'send wallet.operations', 30, 4, { kind: 'PRODUCER', links: [{ traceId: T2, spanId: '00000000000000f1', attributes: {} }] }),
  span('00000000000000a1', null, 'POST /v1/transfers', 0, 25.5, {
    kind: 'SERVER',
    service: 'api-gateway',
    attributes: { 'http.request.method': 'POST', 'http.route': '/v1/transfers', 'http.response.status_code': 201, 'wallet.request_id': 'req-42' },
  }),
  span('00000000000000b1', '00000000000000a1', 'wallet.bank.v1.BankService/TransferMoney', 2, 20, { kind: 'CLIENT', service: 'api-gateway', attributes: { 'rpc.grpc.status_code': 0 } }),
  span('00000000000000b2', '00000000000000b1', 'wallet.bank.v1.BankService/TransferMoney', 3, 18, { kind: 'SERVER', status: { code: 'ERROR', message: 'insufficient funds' }, attributes: { 'error.type': 'INSUFFICIENT_FUNDS' } }),
  span('00000000000000d1', '00000000000000ee', 'process wallet.operations', 40, 10, { kind: 'CONSUMER', service: 'analytics-service' }),
  span('00000000000000f1', null, 'outbox.relay', 28, 8, { traceId: T2 }),
];

describe('traceIdsFor', () => {
  it('finds a trace by its id, or by the request id its HTTP server span carries (attribute or header form)', () => {
    expect(traceIdsFor(fixture, T1)).toEqual([T1]);
    expect(traceIdsFor(fixture, T1.toUpperCase())).toEqual([T1]);
    expect(traceIdsFor(fixture, 'req-42')).toEqual([T1]);
    const header = [span('0000000000000011', null, 'GET /x', 0, 1, { traceId: T2, attributes: { 'http.request.header.x-request-id': ['req-7'] } })];
    expect(traceIdsFor(header, 'req-7')).toEqual([T2]);
    expect(traceIdsFor(fixture, 'unknown')).toEqual([]);
  });
});

describe('buildTree', () => {
  it('nests children under their parent, ordered by start time, and keeps spans whose parent is missing as marked roots', () => {
    const roots = buildTree(fixture.filter((s) => s.traceId === T1));
    expect(roots.map((r) => [r.span.name, r.orphan])).toEqual([
      ['POST /v1/transfers', false],
      ['process wallet.operations', true],
    ]);
    expect(roots[0]!.children.map((c) => c.span.name)).toEqual(['wallet.bank.v1.BankService/TransferMoney', 'send wallet.operations']);
    expect(roots[0]!.children[0]!.children.map((c) => c.span.kind)).toEqual(['SERVER']);
  });
});

describe('formatTrace', () => {
  it('prints service, name, kind, duration, status and key attributes, indented, with links named', () => {
    expect(formatTrace(fixture.filter((s) => s.traceId === T1))).toEqual([
      `trace ${T1}: 5 spans, 3 services (bank-service, api-gateway, analytics-service), 50.00 ms`,
      '[api-gateway] POST /v1/transfers SERVER 25.50 ms UNSET  http.request.method=POST http.route=/v1/transfers http.response.status_code=201 wallet.request_id=req-42',
      '  [api-gateway] wallet.bank.v1.BankService/TransferMoney CLIENT 20.00 ms UNSET  rpc.grpc.status_code=0',
      '    [bank-service] wallet.bank.v1.BankService/TransferMoney SERVER 18.00 ms ERROR "insufficient funds"  error.type=INSUFFICIENT_FUNDS',
      '  [bank-service] send wallet.operations PRODUCER 4.00 ms UNSET',
      `    ↪ link trace ${T2} span 00000000000000f1`,
      '… [analytics-service] process wallet.operations CONSUMER 10.00 ms UNSET',
    ]);
  });

  it('names a link target inside the same trace, and prints nothing for no spans', () => {
    const spans = [span('0000000000000001', null, 'transfer.batch', 0, 5, { links: [{ traceId: T1, spanId: '0000000000000002', attributes: {} }] }), span('0000000000000002', null, 'transfer.enqueue', 0, 1)];
    expect(formatTrace(spans)[2]).toBe('  ↪ link span 0000000000000002 ([bank-service] transfer.enqueue)');
    expect(formatTrace([])).toEqual([]);
  });
});

describe('npm run trace (scripts/trace.mjs)', () => {
  const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
  it('prints the trace of a request id from the spans files, then the traces it links to; exit 1 for an unknown id, 2 for bad usage', () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wallet-trace-'));
    try {
      mkdirSync(join(dataDir, 'traces'));
      writeFileSync(join(dataDir, 'traces', 'spans-2026-12-02-0001.jsonl'), `${fixture.map((s) => JSON.stringify(s)).join('\n')}\n{"cut by a cra`);
      const run = (...args: string[]) => spawnSync(process.execPath, ['scripts/trace.mjs', '--data-dir', dataDir, ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 });
      const byRequest = run('req-42');
      expect(byRequest.status).toBe(0);
      const lines = byRequest.stdout.split('\n');
      expect(lines[0]).toBe(`trace ${T1}: 5 spans, 3 services (bank-service, api-gateway, analytics-service), 50.00 ms`);
      expect(lines).toContain(`    ↪ link trace ${T2} span 00000000000000f1 ([bank-service] outbox.relay)`);
      expect(byRequest.stdout).toContain(`linked trace ${T2}: 1 span, 1 service (bank-service), 8.00 ms`);
      expect(run(T1).stdout).toBe(byRequest.stdout);
      expect(run('nope').status).toBe(1);
      expect(run().status).toBe(2);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
