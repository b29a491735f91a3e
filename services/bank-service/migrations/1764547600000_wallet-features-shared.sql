-- Up Migration
-- Issue #15, the schema the wallet features share (holds, limits, reversals,
-- refunds): the parts of a balance, the limits and spending windows kept on
-- the account row (already locked and written by every movement, so limits
-- cost no extra row or round trip), and the new entry, event and failure kinds.
-- Each feature's own tables come in its own migration.

-- posted = balance_minor (the sum of the account's entries).
-- pending_out_minor: held by pending holds of this sender; pending_in_minor:
-- promised to this recipient by pending holds. Holds are double-entry on the
-- pending side (ADR 0015): sum(pending_out) = sum(pending_in) = sum of pending holds.
ALTER TABLE bank.accounts
  ADD COLUMN pending_out_minor bigint NOT NULL DEFAULT 0 CONSTRAINT accounts_pending_out_non_negative CHECK (pending_out_minor >= 0),
  ADD COLUMN pending_in_minor  bigint NOT NULL DEFAULT 0 CONSTRAINT accounts_pending_in_non_negative CHECK (pending_in_minor >= 0),
  -- Admin-set credit line: available may go down to -overdraft_limit_minor.
  ADD COLUMN overdraft_limit_minor bigint NOT NULL DEFAULT 0 CONSTRAINT accounts_overdraft_limit_non_negative CHECK (overdraft_limit_minor >= 0),
  -- Customer-set outgoing spending limits (NULL = none), within the admin maxima (NULL = no maximum).
  ADD COLUMN daily_limit_minor       bigint NULL CONSTRAINT accounts_daily_limit_non_negative CHECK (daily_limit_minor >= 0),
  ADD COLUMN monthly_limit_minor     bigint NULL CONSTRAINT accounts_monthly_limit_non_negative CHECK (monthly_limit_minor >= 0),
  ADD COLUMN daily_limit_max_minor   bigint NULL CONSTRAINT accounts_daily_limit_max_non_negative CHECK (daily_limit_max_minor >= 0),
  ADD COLUMN monthly_limit_max_minor bigint NULL CONSTRAINT accounts_monthly_limit_max_non_negative CHECK (monthly_limit_max_minor >= 0),
  -- IANA zone of the day and month windows.
  ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC' CONSTRAINT accounts_time_zone_length CHECK (char_length(time_zone) BETWEEN 1 AND 64),
  -- Spending windows: the local day / first day of the local month the
  -- counters belong to (NULL = nothing spent yet); a counter whose window is
  -- not the current one counts as 0.
  ADD COLUMN spent_day         date   NULL,
  ADD COLUMN spent_day_minor   bigint NOT NULL DEFAULT 0 CONSTRAINT accounts_spent_day_non_negative CHECK (spent_day_minor >= 0),
  ADD COLUMN spent_month       date   NULL,
  ADD COLUMN spent_month_minor bigint NOT NULL DEFAULT 0 CONSTRAINT accounts_spent_month_non_negative CHECK (spent_month_minor >= 0);

-- Customers never go below their explicit limit: available (posted minus
-- outgoing holds) stays >= -overdraft. The settlement account is negative by design.
ALTER TABLE bank.accounts DROP CONSTRAINT accounts_balance_non_negative;
ALTER TABLE bank.accounts ADD CONSTRAINT accounts_available_within_overdraft
  CHECK (kind = 'settlement' OR balance_minor - pending_out_minor >= -overdraft_limit_minor);

-- New entry kinds: a reversal moves money back (reversal_id), a refund debits
-- a top-up back to the settlement account or credits a cancelled refund (refund_id).
-- A captured hold posts an ordinary 'transfer'. The foreign keys come with the
-- reversal and refund tables.
ALTER TABLE bank.ledger_entries
  ADD COLUMN reversal_id uuid NULL,
  ADD COLUMN refund_id   uuid NULL;
ALTER TABLE bank.ledger_entries DROP CONSTRAINT ledger_entries_reference;
ALTER TABLE bank.ledger_entries DROP CONSTRAINT ledger_entries_entry_type_check;
ALTER TABLE bank.ledger_entries ADD CONSTRAINT ledger_entries_entry_type_check
  CHECK (entry_type IN ('transfer', 'deposit', 'opening', 'reversal', 'refund'));
ALTER TABLE bank.ledger_entries ADD CONSTRAINT ledger_entries_reference CHECK (
  (entry_type = 'transfer' AND transfer_id IS NOT NULL AND deposit_id IS NULL AND reversal_id IS NULL AND refund_id IS NULL) OR
  (entry_type = 'deposit'  AND deposit_id IS NOT NULL AND transfer_id IS NULL AND reversal_id IS NULL AND refund_id IS NULL) OR
  (entry_type = 'opening'  AND transfer_id IS NULL AND deposit_id IS NULL AND reversal_id IS NULL AND refund_id IS NULL) OR
  (entry_type = 'reversal' AND reversal_id IS NOT NULL AND transfer_id IS NULL AND deposit_id IS NULL AND refund_id IS NULL) OR
  (entry_type = 'refund'   AND refund_id IS NOT NULL AND transfer_id IS NULL AND deposit_id IS NULL AND reversal_id IS NULL));

-- New events on wallet.operations (asyncapi.yaml has their schemas).
ALTER TABLE bank.outbox DROP CONSTRAINT outbox_event_type_check;
ALTER TABLE bank.outbox ADD CONSTRAINT outbox_event_type_check CHECK (event_type IN (
  'transfer_out', 'transfer_in', 'topup',
  'hold_created', 'hold_captured', 'hold_voided', 'hold_expired',
  'reversal_out', 'reversal_in', 'refund', 'refund_cancelled'));

-- A transfer refused by a limit binds its key like any business failure.
ALTER TABLE bank.transfer_failures DROP CONSTRAINT transfer_failures_reason_check;
ALTER TABLE bank.transfer_failures ADD CONSTRAINT transfer_failures_reason_check
  CHECK (reason IN ('ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH', 'INSUFFICIENT_FUNDS', 'LIMIT_EXCEEDED'));

-- Down Migration
ALTER TABLE bank.transfer_failures DROP CONSTRAINT transfer_failures_reason_check;
ALTER TABLE bank.transfer_failures ADD CONSTRAINT transfer_failures_reason_check
  CHECK (reason IN ('ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH', 'INSUFFICIENT_FUNDS'));
ALTER TABLE bank.outbox DROP CONSTRAINT outbox_event_type_check;
ALTER TABLE bank.outbox ADD CONSTRAINT outbox_event_type_check CHECK (event_type IN ('transfer_out', 'transfer_in', 'topup'));
ALTER TABLE bank.ledger_entries DROP CONSTRAINT ledger_entries_reference;
ALTER TABLE bank.ledger_entries DROP CONSTRAINT ledger_entries_entry_type_check;
ALTER TABLE bank.ledger_entries ADD CONSTRAINT ledger_entries_entry_type_check CHECK (entry_type IN ('transfer', 'deposit', 'opening'));
ALTER TABLE bank.ledger_entries ADD CONSTRAINT ledger_entries_reference CHECK (
  (entry_type = 'transfer' AND transfer_id IS NOT NULL AND deposit_id IS NULL) OR
  (entry_type = 'deposit' AND deposit_id IS NOT NULL AND transfer_id IS NULL) OR
  (entry_type = 'opening' AND transfer_id IS NULL AND deposit_id IS NULL));
ALTER TABLE bank.ledger_entries DROP COLUMN refund_id, DROP COLUMN reversal_id;
ALTER TABLE bank.accounts DROP CONSTRAINT accounts_available_within_overdraft;
ALTER TABLE bank.accounts ADD CONSTRAINT accounts_balance_non_negative CHECK (kind = 'settlement' OR balance_minor >= 0);
ALTER TABLE bank.accounts
  DROP COLUMN spent_month_minor, DROP COLUMN spent_month, DROP COLUMN spent_day_minor, DROP COLUMN spent_day,
  DROP COLUMN time_zone, DROP COLUMN monthly_limit_max_minor, DROP COLUMN daily_limit_max_minor,
  DROP COLUMN monthly_limit_minor, DROP COLUMN daily_limit_minor, DROP COLUMN overdraft_limit_minor,
  DROP COLUMN pending_in_minor, DROP COLUMN pending_out_minor;
