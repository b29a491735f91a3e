-- Up Migration
-- The settlement account and the plan's two accounts, funded by opening
-- balance entries against the settlement account, so that the sum of all
-- balances is 0 and each account's entries sum to its balance.
INSERT INTO bank.accounts (id, kind, currency, balance_minor, version) VALUES
  ('00000000-0000-0000-0000-000000000001', 'settlement', 'USD', -150000, 2),
  ('123e4567-e89b-12d3-a456-426614174000', 'customer',   'USD',  100000, 1),
  ('987e6543-e21b-34d3-c456-426614174999', 'customer',   'USD',   50000, 1);

INSERT INTO bank.ledger_entries (account_id, amount_minor, balance_after_minor, entry_type)
SELECT account_id::uuid, amount_minor, balance_after_minor, 'opening'
FROM (VALUES
  (1, '00000000-0000-0000-0000-000000000001', -100000, -100000),
  (2, '123e4567-e89b-12d3-a456-426614174000',  100000,  100000),
  (3, '00000000-0000-0000-0000-000000000001',  -50000, -150000),
  (4, '987e6543-e21b-34d3-c456-426614174999',   50000,   50000)
) AS opening (n, account_id, amount_minor, balance_after_minor)
ORDER BY n;

-- Down Migration
DELETE FROM bank.ledger_entries WHERE entry_type = 'opening' AND account_id IN (
  '00000000-0000-0000-0000-000000000001', '123e4567-e89b-12d3-a456-426614174000', '987e6543-e21b-34d3-c456-426614174999');
DELETE FROM bank.accounts WHERE id IN (
  '123e4567-e89b-12d3-a456-426614174000', '987e6543-e21b-34d3-c456-426614174999', '00000000-0000-0000-0000-000000000001');
