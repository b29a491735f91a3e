-- Up Migration

-- Issue #15: refunds of completed top-ups to the card (ADR 0018), one row per
-- (top-up, client idempotency key). The row's id is the refund reference at
-- the bank (RefundDeposit / GetRefund / CancelRefund) and, prefixed, the
-- refund's idempotency key at the payment gateway. Every state is persisted
-- before the side effect it guards:
--   DEBITING   the wallet debit (RefundDeposit) may be in flight.
--   DEBITED    the bank confirmed the debit; the card refund may be in flight.
--   CANCELLING the gateway refused the card refund for good; the debit is being credited back.
--   SUCCEEDED  debited and refunded to the card.
--   FAILED     nothing refunded: the bank refused the debit (or voided it), or it was credited back.
CREATE TABLE card_adapter.top_up_refunds (
  id                uuid PRIMARY KEY,
  top_up_id         uuid NOT NULL REFERENCES card_adapter.top_ups (id),
  account_id        uuid NOT NULL,
  idempotency_key   text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_hash      text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  amount_minor      bigint NOT NULL CHECK (amount_minor > 0),
  currency          char(3) NOT NULL,
  initiated_by      text NOT NULL CHECK (char_length(initiated_by) BETWEEN 1 AND 255),
  state             text NOT NULL CHECK (state IN ('DEBITING', 'DEBITED', 'CANCELLING', 'SUCCEEDED', 'FAILED')),
  failure_reason    text,
  failure_message   text,
  gateway_refund_id text,
  debit_attempts    integer NOT NULL DEFAULT 0 CHECK (debit_attempts >= 0),
  card_attempts     integer NOT NULL DEFAULT 0 CHECK (card_attempts >= 0),
  wait_rounds       integer NOT NULL DEFAULT 0 CHECK (wait_rounds >= 0),
  -- Lease: the worker holding lease_token may act on the row until lease_until (database clock).
  lease_token       uuid,
  lease_until       timestamptz,
  trace_context     text CHECK (trace_context IS NULL OR char_length(trace_context) <= 256),
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  CONSTRAINT top_up_refunds_key UNIQUE (top_up_id, idempotency_key),
  CONSTRAINT top_up_refunds_succeeded_has_refund CHECK (state <> 'SUCCEEDED' OR gateway_refund_id IS NOT NULL)
);

-- The recovery loop scans only unfinished refunds.
CREATE INDEX top_up_refunds_unfinished ON card_adapter.top_up_refunds (updated_at)
  WHERE state IN ('DEBITING', 'DEBITED', 'CANCELLING');

-- Audit trail, as for top-ups.
CREATE TABLE card_adapter.top_up_refund_transitions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  refund_id   uuid NOT NULL REFERENCES card_adapter.top_up_refunds (id),
  from_state  text,
  to_state    text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX top_up_refund_transitions_refund ON card_adapter.top_up_refund_transitions (refund_id, id);

-- Down Migration

DROP TABLE card_adapter.top_up_refund_transitions;
DROP TABLE card_adapter.top_up_refunds;
