// The adapter's bank client over two bank replicas (issue #13, C1):
// CARD_ADAPTER_BANK_GRPC_ADDRESS lists both, calls go round_robin to both,
// and when one replica goes away the top-ups go on through the other with no
// failure the client sees and one deposit per top-up.
import { TopUpStatus } from '@wallet/contracts/card-adapter';
import { createTestDatabase, type TestDatabase } from '@wallet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeTestIssuer } from '../support/auth.js';
import { dropTestDatabase } from '../support/db.js';
import { FakeBank } from '../support/fake-bank.js';
import { startTestAdapter, type TestAdapter } from '../support/harness.js';
import { MockGatewayProcess } from '../support/payment-gateway-mock.js';

let db: TestDatabase;
let mock: MockGatewayProcess;
let banks: FakeBank[];
let stopped: FakeBank | undefined;
let t: TestAdapter;

beforeAll(async () => {
  db = await createTestDatabase('card_adapter_bank_replicas');
  mock = await MockGatewayProcess.start(db.url);
  banks = await Promise.all([new FakeBank().start(), new FakeBank().start()]);
  t = await startTestAdapter({
    DATABASE_URL: db.url,
    CARD_ADAPTER_BANK_GRPC_ADDRESS: banks.map((b) => b.address).join(','),
    CARD_ADAPTER_PAYMENT_GATEWAY_URL: mock.url,
  });
});

afterAll(async () => {
  await t?.stop();
  await Promise.all((banks ?? []).filter((b) => b !== stopped).map((b) => b.stop()));
  await mock?.stop();
  await dropTestDatabase(db);
  await closeTestIssuer();
});

async function completedTopUps(count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const result = await t.topUp({});
    expect(result.err).toBeUndefined();
    expect(result.ok?.topUp?.status).toBe(TopUpStatus.TOP_UP_STATUS_COMPLETED);
    ids.push(result.ok!.topUp!.id);
  }
  return ids;
}

const depositCallsFor = (id: string): number => banks.reduce((sum, bank) => sum + bank.callsFor(`topup-${id}`), 0);

describe('bank replicas behind the adapter', () => {
  it('spreads the bank calls over both replicas (round_robin), one deposit per top-up', async () => {
    const ids = await completedTopUps(8);
    for (const bank of banks) expect(bank.seen.length).toBeGreaterThan(0);
    for (const id of ids) expect(depositCallsFor(id)).toBe(1);
  });

  it('keeps completing top-ups through the other replica when one goes away, with no failure the client sees', async () => {
    stopped = banks[1]!;
    await stopped.stop();
    const seenBefore = banks[0]!.seen.length;
    const ids = await completedTopUps(6);
    expect(banks[0]!.seen.length).toBeGreaterThan(seenBefore);
    for (const id of ids) expect(banks[0]!.callsFor(`topup-${id}`)).toBe(1);
    expect(t.adapter.breakers.states().bank).toBe('closed');
  });
});
