// The JSON Schemas on wallet.operations and the TypeScript event types in
// @wallet/contracts describe the same shapes: same fields, same required ones.
// The key lists are checked against the types at compile time (tsconfig.tests.json),
// and against the schemas here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contractPaths, type HoldEvent, type RefundEvent, type ReversalEvent, type TopUpEvent, type TransferEvent } from '@wallet/contracts';

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

/** Every key of T exactly once (a missing one is a compile error). */
const allKeys =
  <T>() =>
  <const K extends readonly (keyof T)[]>(...keys: K & ([keyof T] extends [K[number]] ? unknown : never)): string[] =>
    [...keys].map(String).sort();
/** Every required key of T exactly once. */
const requiredKeys =
  <T>() =>
  <const K extends readonly RequiredKeys<T>[]>(...keys: K & ([RequiredKeys<T>] extends [K[number]] ? unknown : never)): string[] =>
    [...keys].map(String).sort();

const common = ['eventId', 'eventType', 'schemaVersion', 'occurredAt', 'accountId', 'amount', 'currency'] as const;

const cases = [
  {
    name: 'transfer',
    path: contractPaths.transferEventSchema,
    all: allKeys<TransferEvent>()(...common, 'counterpartyAccountId', 'transferId', 'description', 'initiatedBy'),
    required: requiredKeys<TransferEvent>()(...common, 'counterpartyAccountId', 'transferId'),
  },
  {
    name: 'top-up',
    path: contractPaths.topUpEventSchema,
    all: allKeys<TopUpEvent>()(...common, 'topUpId', 'depositId', 'cardLast4', 'cardBrand', 'initiatedBy'),
    required: requiredKeys<TopUpEvent>()(...common, 'topUpId', 'depositId', 'cardLast4'),
  },
  {
    name: 'hold',
    path: contractPaths.holdEventSchema,
    all: allKeys<HoldEvent>()(...common, 'counterpartyAccountId', 'direction', 'holdId', 'transferId', 'expiresAt', 'description', 'initiatedBy'),
    required: requiredKeys<HoldEvent>()(...common, 'counterpartyAccountId', 'direction', 'holdId'),
  },
  {
    name: 'reversal',
    path: contractPaths.reversalEventSchema,
    all: allKeys<ReversalEvent>()(...common, 'counterpartyAccountId', 'reversalId', 'originalTransferId', 'reason', 'forced', 'initiatedBy'),
    required: requiredKeys<ReversalEvent>()(...common, 'counterpartyAccountId', 'reversalId', 'originalTransferId', 'reason', 'forced'),
  },
  {
    name: 'refund',
    path: contractPaths.refundEventSchema,
    all: allKeys<RefundEvent>()(...common, 'refundId', 'topUpId', 'depositId', 'initiatedBy'),
    required: requiredKeys<RefundEvent>()(...common, 'refundId', 'topUpId', 'depositId'),
  },
];

const eventTypes: Record<string, string[]> = {
  hold: ['hold_captured', 'hold_created', 'hold_expired', 'hold_voided'] satisfies HoldEvent['eventType'][],
  reversal: ['reversal_in', 'reversal_out'] satisfies ReversalEvent['eventType'][],
  refund: ['refund', 'refund_cancelled'] satisfies RefundEvent['eventType'][],
};

describe('event JSON Schemas match the contract types', () => {
  it.each(cases)('the $name schema has exactly the type\'s fields and required fields, and no others', ({ path, all, required }) => {
    const schema = JSON.parse(readFileSync(path, 'utf8')) as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
    expect(Object.keys(schema.properties).sort()).toEqual(all);
    expect([...schema.required].sort()).toEqual(required);
    expect(schema.additionalProperties).toBe(false);
  });

  it.each(Object.entries(eventTypes))('the %s schema lists exactly the type\'s event types', (name, types) => {
    const path = cases.find((c) => c.name === name)!.path;
    const schema = JSON.parse(readFileSync(path, 'utf8')) as { properties: { eventType: { enum: string[] } } };
    expect([...schema.properties.eventType.enum].sort()).toEqual(types);
  });
});
