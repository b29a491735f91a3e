-- Up Migration
-- The hash-chain trigger finds the account's previous entry with an index
-- probe on (account_id, id). PL/pgSQL caches that query's plan per session;
-- planned while ledger_entries is small (a new database, the first rows of a
-- bulk INSERT ... SELECT), it is a sequential scan, and every later insert on
-- that connection scans the whole table: one statement of 9,000 entries over
-- 300 accounts took 10.8 s instead of 0.7 s (quadratic). Sequential scans are
-- never right for this lookup, so the function forbids them for itself.
ALTER FUNCTION bank.ledger_entries_chain() SET enable_seqscan = off;

-- Down Migration
ALTER FUNCTION bank.ledger_entries_chain() RESET enable_seqscan;
