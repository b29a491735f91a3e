-- Up Migration
-- Issue #15, reversals (ADR 0017): a refused reversal binds its key, like a
-- refused transfer (ADR 0003). A ReverseTransfer that executed and was refused
-- under the transfer's row lock (REVERSAL_WOULD_OVERDRAW,
-- REVERSAL_EXCEEDS_REMAINING) keeps that answer under (transfer, key): the
-- same request replays it even after money arrived, another request with the
-- key is IDEMPOTENCY_KEY_REUSED. A key is in bank.reversals or here, never both
-- (both are read and written under the transfer's row lock).
CREATE TABLE bank.reversal_failures (
  transfer_id     uuid        NOT NULL REFERENCES bank.transfers (id),
  idempotency_key text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  -- sha256 (hex) of the normalised request, as bank.reversals.request_hash.
  request_hash    text        NOT NULL,
  reason          text        NOT NULL CHECK (reason IN ('REVERSAL_WOULD_OVERDRAW', 'REVERSAL_EXCEEDS_REMAINING')),
  -- ErrorInfo metadata of the answer (account id, remaining); never secrets.
  metadata        jsonb       NOT NULL DEFAULT '{}',
  created_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (transfer_id, idempotency_key)
);

-- ListReversals pages a transfer's reversals oldest first.
CREATE INDEX reversals_transfer_created ON bank.reversals (transfer_id, created_at, id);

-- Down Migration
DROP INDEX bank.reversals_transfer_created;
DROP TABLE bank.reversal_failures;
