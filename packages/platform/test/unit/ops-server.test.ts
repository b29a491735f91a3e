// The ops endpoints: readiness decides the status; detail only informs.
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { startOpsServer, type OpsServer } from '../../src/ops-server.js';

let ops: OpsServer | undefined;
afterEach(async () => {
  await ops?.close();
  ops = undefined;
});

async function readyz(checks: Record<string, string>, detail?: () => Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  ops = await startOpsServer({ host: '127.0.0.1', port: 0, registry: new Registry(), readiness: async () => checks, ...(detail ? { detail } : {}) });
  const response = await fetch(`http://127.0.0.1:${ops.port}/readyz`);
  return { status: response.status, body: await response.json() };
}

describe('ops server /readyz', () => {
  it('reports detail without letting it decide readiness (an open breaker is reported, the replica stays ready)', async () => {
    const answer = await readyz({ database: 'ok' }, () => ({ breakers: { bank: 'open' } }));
    expect(answer).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok' }, detail: { breakers: { bank: 'open' } } } });
  });

  it('answers 503 on any failing check, with the detail, and no detail key when none is given', async () => {
    expect(await readyz({ database: 'connection refused' }, () => ({ role: 'follower' }))).toEqual({
      status: 503,
      body: { status: 'unavailable', checks: { database: 'connection refused' }, detail: { role: 'follower' } },
    });
    await ops?.close();
    ops = undefined;
    expect(await readyz({ database: 'ok' })).toEqual({ status: 200, body: { status: 'ok', checks: { database: 'ok' } } });
  });
});
