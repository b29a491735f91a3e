-- Up Migration
-- Issue #15, balances in time and statements (ADR 0020). Both read one
-- account's entries in (created_at, id) order: the balance at an instant is
-- the sum of amount_minor up to it, a statement walks the range by keyset.
-- With amount_minor included, the sums are index-only scans (EXPLAIN in the
-- ADR); the statement's chunks read the heap for the other columns.
-- The (account_id, id) index stays: the hash chain and the newest-first reads use it.
-- On a large production table, build it first with CREATE INDEX CONCURRENTLY
-- under the same name; IF NOT EXISTS then makes this a no-op.
CREATE INDEX IF NOT EXISTS ledger_entries_account_created_at_id
  ON bank.ledger_entries (account_id, created_at, id) INCLUDE (amount_minor);

-- Down Migration
DROP INDEX IF EXISTS bank.ledger_entries_account_created_at_id;
