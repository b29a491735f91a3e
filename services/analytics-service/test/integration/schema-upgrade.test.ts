// A store created before issue #10 (no initiated_by column) gains it when the
// service's schema setup runs on start: old rows read '' (the column's
// default), new rows keep their initiator. Real chDB engine.
import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventToRow } from '../../src/domain/operation.js';
import { normalizeOperationsQuery } from '../../src/domain/query.js';
import { openClickHouse } from '../../src/store/client.js';
import { OperationsStore } from '../../src/store/operations-store.js';
import { at, reversalEvent, topUpEvent } from '../support/events.js';
import { removeChdbPath, tempChdbPath } from '../support/service.js';

const chdbPath = tempChdbPath('schema-upgrade');
const database = 'analytics_upgrade_test';
let client: ClickHouseClient;

/** The table exactly as the store created it before initiated_by existed. */
const TABLE_BEFORE_ISSUE_10 = `CREATE TABLE ${database}.operations
(
    account_id              UUID,
    created_at              DateTime64(6, 'UTC'),
    event_id                UUID,
    type                    Enum8('transfer_in' = 1, 'transfer_out' = 2, 'topup' = 3),
    amount_minor            Int64,
    currency                LowCardinality(String),
    counterparty_account_id Nullable(UUID),
    transfer_id             Nullable(UUID),
    top_up_id               Nullable(UUID),
    deposit_id              Nullable(UUID),
    description             String,
    card_last4              LowCardinality(String),
    card_brand              LowCardinality(String),
    ingested_at             DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(created_at)
ORDER BY (account_id, created_at, event_id)
SETTINGS index_granularity = 1024`;

beforeAll(async () => {
  ({ client } = await openClickHouse({ chdbPath, requestTimeoutMs: 30_000, queryMemoryMibMax: 256, cacheMibMax: 16, engineMemoryMibMax: 512 }));
});

afterAll(async () => {
  await client?.close();
  removeChdbPath(chdbPath);
});

describe('schema setup on a store from before issue #10', () => {
  it('adds initiated_by (idempotently): old rows read an empty initiator, new rows keep theirs', async () => {
    const accountId = randomUUID();
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` });
    await client.command({ query: TABLE_BEFORE_ISSUE_10 });
    const old = topUpEvent({ accountId, amount: '1.00', occurredAt: at('2025-06-01T00:00:00Z', 0) });
    const { initiatedBy: _none, ...oldRow } = eventToRow(old);
    await client.insert({
      table: `${database}.operations`,
      format: 'JSONEachRow',
      values: [
        {
          account_id: oldRow.accountId,
          created_at: '2025-06-01 00:00:00.000000',
          event_id: oldRow.eventId,
          type: 'topup',
          amount_minor: '100',
          currency: 'USD',
          top_up_id: oldRow.topUpId,
          deposit_id: oldRow.depositId,
          description: '',
          card_last4: '4242',
          card_brand: 'visa',
        },
      ],
    });

    const store = new OperationsStore(client, database);
    await store.ensureSchema();
    await store.ensureSchema();
    const fresh = topUpEvent({ accountId, amount: '2.00', occurredAt: at('2025-06-01T00:00:00Z', 1_000), initiatedBy: 'alice-subject' });
    await store.insert([eventToRow(fresh)]);

    const page = await store.listOperations(normalizeOperationsQuery({ accountId, pageSize: 10, pageToken: '', types: [] }));
    expect(page.operations.map((op) => [op.eventId, op.initiatedBy])).toEqual([
      [fresh.eventId, 'alice-subject'],
      [old.eventId, ''],
    ]);

    // Issue #15: the same setup extends the type enum and adds the link columns; old rows read empty links.
    const reversal = reversalEvent({ accountId, type: 'reversal_in', occurredAt: at('2025-06-01T00:00:00Z', 2_000), forced: true });
    await store.insert([eventToRow(reversal)]);
    const upgraded = await store.listOperations(normalizeOperationsQuery({ accountId, pageSize: 10, pageToken: '', types: [] }));
    expect(upgraded.operations.map((op) => [op.type, op.reversalId, op.originalTransferId, op.forced])).toEqual([
      ['reversal_in', reversal.reversalId, reversal.originalTransferId, true],
      ['topup', '', '', false],
      ['topup', '', '', false],
    ]);
  });
});
