-- Up Migration
-- Issue #15, holds (two-phase transfers, ADR 0015). A pending hold keeps its
-- amount in the sender's pending_out_minor and the recipient's
-- pending_in_minor (1764547600000); nothing is posted until a capture, which
-- writes an ordinary completed transfer (hold_id set). Exactly one of
-- capture, void and expiry moves a hold out of 'pending': each decides under
-- the hold row's lock (FOR UPDATE) with this status.
CREATE TABLE bank.holds (
  id                   uuid        PRIMARY KEY,
  sender_account_id    uuid        NOT NULL REFERENCES bank.accounts (id),
  recipient_account_id uuid        NOT NULL REFERENCES bank.accounts (id),
  amount_minor         bigint      NOT NULL CHECK (amount_minor > 0),
  currency             char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status               text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'captured', 'voided', 'expired')),
  -- Set when captured: the amount posted (the rest was released) and its transfer.
  captured_minor       bigint      NULL,
  transfer_id          uuid        NULL,
  description          text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 140),
  idempotency_key      text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  -- sha256 (hex) of the normalised request: same key + other hash = key reuse.
  request_hash         text        NOT NULL,
  initiated_by         text        NULL CHECK (char_length(initiated_by) BETWEEN 1 AND 255),
  created_at           timestamptz NOT NULL,
  expires_at           timestamptz NOT NULL,
  -- When it was captured, voided or expired.
  finalized_at         timestamptz NULL,
  CONSTRAINT holds_sender_idempotency_key UNIQUE (sender_account_id, idempotency_key),
  CONSTRAINT holds_distinct_accounts CHECK (sender_account_id <> recipient_account_id),
  CONSTRAINT holds_expires_after_creation CHECK (expires_at > created_at),
  CONSTRAINT holds_finalized CHECK ((status = 'pending') = (finalized_at IS NULL)),
  CONSTRAINT holds_capture CHECK (
    (status = 'captured') = (captured_minor IS NOT NULL AND transfer_id IS NOT NULL)
    AND (captured_minor IS NULL OR (captured_minor > 0 AND captured_minor <= amount_minor)))
);

-- The expiry sweep: pending holds by expiry, nothing else.
CREATE INDEX holds_pending_expiry ON bank.holds (expires_at) WHERE status = 'pending';

-- CreateHold's business failures decided under the row locks bind the key
-- (replayed on retry), like bank.transfer_failures for TransferMoney.
CREATE TABLE bank.hold_failures (
  sender_account_id uuid        NOT NULL,
  idempotency_key   text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_hash      text        NOT NULL,
  reason            text        NOT NULL CHECK (reason IN ('ACCOUNT_NOT_FOUND', 'CURRENCY_MISMATCH', 'INSUFFICIENT_FUNDS', 'LIMIT_EXCEEDED')),
  metadata          jsonb       NOT NULL DEFAULT '{}',
  created_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (sender_account_id, idempotency_key)
);

-- The transfer a capture posted. Its idempotency key is 'hold:<hold id>'; no
-- other transfer may use that prefix (TransferMoney refuses it; this is the
-- backstop, NOT VALID so a historic key does not stop the migration).
ALTER TABLE bank.transfers ADD COLUMN hold_id uuid NULL REFERENCES bank.holds (id);
CREATE UNIQUE INDEX transfers_hold_id ON bank.transfers (hold_id) WHERE hold_id IS NOT NULL;
ALTER TABLE bank.transfers ADD CONSTRAINT transfers_hold_key
  CHECK (hold_id IS NOT NULL OR idempotency_key NOT LIKE 'hold:%') NOT VALID;
ALTER TABLE bank.holds ADD CONSTRAINT holds_transfer_id_fkey FOREIGN KEY (transfer_id) REFERENCES bank.transfers (id);

-- Down Migration
ALTER TABLE bank.holds DROP CONSTRAINT holds_transfer_id_fkey;
ALTER TABLE bank.transfers DROP CONSTRAINT transfers_hold_key;
DROP INDEX bank.transfers_hold_id;
ALTER TABLE bank.transfers DROP COLUMN hold_id;
DROP TABLE bank.hold_failures;
DROP TABLE bank.holds;
