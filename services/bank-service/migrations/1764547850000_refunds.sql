-- Up Migration
-- Issue #15: refunds of card top-ups (ADR 0018). The card adapter debits the
-- wallet first (RefundDeposit: account -, settlement +), then refunds the
-- card; when the card refund fails for good it cancels the refund
-- (CancelRefund: the same amount credited back, status cancelled). Both are
-- 'refund' ledger entries carrying refund_id.
CREATE TABLE bank.refunds (
  id               uuid        PRIMARY KEY,
  deposit_id       uuid        NOT NULL REFERENCES bank.deposits (id),
  top_up_id        uuid        NOT NULL,
  account_id       uuid        NOT NULL REFERENCES bank.accounts (id),
  amount_minor     bigint      NOT NULL CHECK (amount_minor > 0),
  currency         char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  -- The adapter's refund id: one refund per reference, ever.
  refund_reference text        NOT NULL CHECK (char_length(refund_reference) BETWEEN 1 AND 255),
  status           text        NOT NULL DEFAULT 'debited' CHECK (status IN ('debited', 'cancelled')),
  -- sha256 (hex) of the normalised request: same reference + other hash = reuse.
  request_hash     text        NOT NULL,
  initiated_by     text        NULL CHECK (initiated_by IS NULL OR char_length(initiated_by) BETWEEN 1 AND 255),
  created_at       timestamptz NOT NULL DEFAULT now(),
  cancelled_at     timestamptz NULL,
  CONSTRAINT refunds_refund_reference_key UNIQUE (refund_reference),
  CONSTRAINT refunds_cancelled_at CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
-- What remains refundable of a deposit: its amount minus its refunds that are not cancelled.
CREATE INDEX refunds_deposit_id ON bank.refunds (deposit_id);
-- RefundDeposit names the top-up; deposits had no index on it.
CREATE INDEX deposits_top_up_id ON bank.deposits (top_up_id);

-- Refund references that never debit anything and never will: voided by
-- GetRefund(void_if_absent) while no refund had applied (reason VOIDED), or
-- bound to a business failure of RefundDeposit decided under the locks.
CREATE TABLE bank.voided_refund_references (
  refund_reference text        PRIMARY KEY CHECK (char_length(refund_reference) BETWEEN 1 AND 255),
  reason           text        NOT NULL CHECK (reason IN ('VOIDED', 'ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH', 'INSUFFICIENT_FUNDS',
                                                          'DEPOSIT_NOT_FOUND', 'REFUND_EXCEEDS_DEPOSIT')),
  request_hash     text,
  metadata         jsonb       NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE bank.ledger_entries
  ADD CONSTRAINT ledger_entries_refund_id_fkey FOREIGN KEY (refund_id) REFERENCES bank.refunds (id);

-- Down Migration
ALTER TABLE bank.ledger_entries DROP CONSTRAINT ledger_entries_refund_id_fkey;
DROP TABLE bank.voided_refund_references;
DROP INDEX bank.deposits_top_up_id;
DROP TABLE bank.refunds;
