-- Up Migration
-- Idempotency binds business failures (ADR 0003): a transfer that executed and
-- failed for a business reason keeps its answer under its key, so a retry with
-- the same key and request gets the same failure, even after the ledger changed.
-- No foreign key: the failure may be that the sender does not exist.
CREATE TABLE bank.transfer_failures (
  sender_account_id uuid        NOT NULL,
  idempotency_key   text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_hash      text        NOT NULL,
  reason            text        NOT NULL CHECK (reason IN ('ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH', 'INSUFFICIENT_FUNDS')),
  -- ErrorInfo metadata of the answer (account ids, role, currencies); never secrets.
  metadata          jsonb       NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sender_account_id, idempotency_key)
);

-- Deposit references that never credit anything and never will: voided by
-- GetDeposit(void_if_absent) while no deposit had applied (reason VOIDED), or
-- bound to a business failure of DepositMoney (reason = that failure).
CREATE TABLE bank.voided_deposit_references (
  deposit_reference text        PRIMARY KEY CHECK (char_length(deposit_reference) BETWEEN 1 AND 255),
  reason            text        NOT NULL CHECK (reason IN ('VOIDED', 'ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH')),
  -- Set for a failed DepositMoney: the same request replays the failure, another is a key reuse.
  request_hash      text,
  metadata          jsonb       NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE bank.voided_deposit_references;
DROP TABLE bank.transfer_failures;
