// The history table (see docs/adr/0004-analytics-clickhouse-table-and-dedup.md).
//
// - ReplacingMergeTree keyed by (account_id, created_at, event_id): a
//   redelivered event has the same key, so the engine collapses copies on
//   merge and `FINAL` collapses them at read time before that. This is what
//   makes at-least-once delivery show exactly once.
// - The sorting key starts with account_id, so "last N operations of account
//   X" reads one contiguous key range per partition, in reverse order
//   (optimize_read_in_order), and stops after N rows.
// - Monthly partitions keep parts small and let time-range filters skip
//   whole months; there are a few dozen, not thousands.
// - index_granularity 1024 (not 8192): a lookup reads about one granule per
//   part for an account, so smaller granules mean 8x fewer rows read (and
//   merged by FINAL) per page; the primary index stays tiny (~20k marks per
//   20M rows).
// - Money is Int64 minor units, never a float.
// - Columns added later come as idempotent ALTERs after the CREATE, so a
//   store created by an older version gains them on start (ADD COLUMN IF NOT
//   EXISTS is a metadata change; old parts read the DEFAULT).

/** Every operation type with its stored code; new types are appended, never renumbered. */
export const OPERATION_TYPE_ENUM = `Enum8('transfer_in' = 1, 'transfer_out' = 2, 'topup' = 3, 'hold_created' = 4, 'hold_captured' = 5, 'hold_voided' = 6, 'hold_expired' = 7, 'reversal_out' = 8, 'reversal_in' = 9, 'refund' = 10, 'refund_cancelled' = 11)`;

export function schemaStatements(database: string): string[] {
  return [
    `CREATE DATABASE IF NOT EXISTS ${database}`,
    `CREATE TABLE IF NOT EXISTS ${database}.operations
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
SETTINGS index_granularity = 1024`,
    // Issue #10: who made the movement (the verified caller's subject); '' for events from before identity existed.
    `ALTER TABLE ${database}.operations ADD COLUMN IF NOT EXISTS initiated_by String DEFAULT '' AFTER card_brand`,
    // Issue #15: holds, reversals and refunds. Appending Enum8 values keeps the existing codes,
    // so the MODIFY is a metadata change (no rewrite of old parts); it is idempotent.
    `ALTER TABLE ${database}.operations MODIFY COLUMN type ${OPERATION_TYPE_ENUM}`,
    // Links to the records an operation belongs to (NULL when not that kind); see ADR 0021.
    `ALTER TABLE ${database}.operations ADD COLUMN IF NOT EXISTS hold_id Nullable(UUID) AFTER initiated_by`,
    `ALTER TABLE ${database}.operations ADD COLUMN IF NOT EXISTS direction LowCardinality(String) DEFAULT '' AFTER hold_id`,
    `ALTER TABLE ${database}.operations ADD COLUMN IF NOT EXISTS reversal_id Nullable(UUID) AFTER direction`,
    `ALTER TABLE ${database}.operations ADD COLUMN IF NOT EXISTS original_transfer_id Nullable(UUID) AFTER reversal_id`,
    `ALTER TABLE ${database}.operations ADD COLUMN IF NOT EXISTS forced Bool DEFAULT false AFTER original_transfer_id`,
    `ALTER TABLE ${database}.operations ADD COLUMN IF NOT EXISTS refund_id Nullable(UUID) AFTER forced`,
  ];
}
