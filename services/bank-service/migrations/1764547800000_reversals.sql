-- Up Migration
-- Issue #15, reversals (ADR 0017): part or all of a completed transfer moved
-- back from its recipient to its sender, never more than what remains.

-- What has been reversed so far; the backstop against reversing more than the
-- transfer moved, whatever the application does.
ALTER TABLE bank.transfers
  ADD COLUMN reversed_minor bigint NOT NULL DEFAULT 0
    CONSTRAINT transfers_reversed_within_amount CHECK (reversed_minor >= 0 AND reversed_minor <= amount_minor);

CREATE TABLE bank.reversals (
  id                    uuid        PRIMARY KEY,
  transfer_id           uuid        NOT NULL REFERENCES bank.transfers (id),
  -- The original recipient (debited) and sender (credited).
  from_account_id       uuid        NOT NULL REFERENCES bank.accounts (id),
  to_account_id         uuid        NOT NULL REFERENCES bank.accounts (id),
  amount_minor          bigint      NOT NULL CHECK (amount_minor > 0),
  currency              char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  reason                text        NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 140),
  -- An admin forced it past the recipient's available balance + overdraft;
  -- forced_debt_minor is the debt it created (accounts.forced_debt_minor grew by it).
  forced                boolean     NOT NULL DEFAULT false,
  forced_debt_minor     bigint      NOT NULL DEFAULT 0 CHECK (forced_debt_minor >= 0 AND (forced OR forced_debt_minor = 0)),
  -- What remained reversible of the transfer after this reversal (replays answer it).
  remaining_after_minor bigint      NOT NULL CHECK (remaining_after_minor >= 0),
  idempotency_key       text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  -- sha256 (hex) of the normalised request: same key + other hash = key reuse.
  request_hash          text        NOT NULL,
  initiated_by          text        NULL CHECK (char_length(initiated_by) BETWEEN 1 AND 255),
  created_at            timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT reversals_transfer_idempotency_key UNIQUE (transfer_id, idempotency_key),
  CONSTRAINT reversals_distinct_accounts CHECK (from_account_id <> to_account_id)
);

ALTER TABLE bank.ledger_entries
  ADD CONSTRAINT ledger_entries_reversal_id_fkey FOREIGN KEY (reversal_id) REFERENCES bank.reversals (id);

-- The debt an admin's forced reversal created is explicit: the backstop lets
-- an account below -overdraft only by this much. Spending ignores it
-- (checkOutgoing counts available + overdraft only), so the customer can never
-- spend into it; it shrinks by itself as money comes in (trigger below).
ALTER TABLE bank.accounts
  ADD COLUMN forced_debt_minor bigint NOT NULL DEFAULT 0 CONSTRAINT accounts_forced_debt_non_negative CHECK (forced_debt_minor >= 0);
ALTER TABLE bank.accounts DROP CONSTRAINT accounts_available_within_overdraft;
ALTER TABLE bank.accounts ADD CONSTRAINT accounts_available_within_overdraft
  CHECK (kind = 'settlement' OR balance_minor - pending_out_minor >= -(overdraft_limit_minor + forced_debt_minor));

-- Repayment: whenever the balance, the outgoing holds or the overdraft of an
-- indebted account change, its forced debt shrinks to what is still below
-- -overdraft (never grows here: only a forced reversal raises it). The WHEN
-- clause keeps this off every other account's update (the hot path).
CREATE FUNCTION bank.accounts_forced_debt_repaid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.forced_debt_minor := LEAST(NEW.forced_debt_minor,
    GREATEST(0, -(NEW.balance_minor - NEW.pending_out_minor) - NEW.overdraft_limit_minor));
  RETURN NEW;
END
$$;

CREATE TRIGGER accounts_forced_debt_repaid
  BEFORE UPDATE OF balance_minor, pending_out_minor, overdraft_limit_minor ON bank.accounts
  FOR EACH ROW WHEN (OLD.forced_debt_minor > 0)
  EXECUTE FUNCTION bank.accounts_forced_debt_repaid();

-- Down Migration
DROP TRIGGER accounts_forced_debt_repaid ON bank.accounts;
DROP FUNCTION bank.accounts_forced_debt_repaid();
ALTER TABLE bank.accounts DROP CONSTRAINT accounts_available_within_overdraft;
ALTER TABLE bank.accounts ADD CONSTRAINT accounts_available_within_overdraft
  CHECK (kind = 'settlement' OR balance_minor - pending_out_minor >= -overdraft_limit_minor);
ALTER TABLE bank.accounts DROP COLUMN forced_debt_minor;
ALTER TABLE bank.ledger_entries DROP CONSTRAINT ledger_entries_reversal_id_fkey;
DROP TABLE bank.reversals;
ALTER TABLE bank.transfers DROP COLUMN reversed_minor;
