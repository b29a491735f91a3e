-- Up Migration

CREATE SCHEMA IF NOT EXISTS card_adapter;

-- The top-up journal: one row per (account, client idempotency key). It holds
-- no card number and no CVC, only last4, brand, and a keyed request hash.
CREATE TABLE card_adapter.top_ups (
  id                      uuid PRIMARY KEY,
  account_id              uuid NOT NULL,
  idempotency_key         text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_hash            text NOT NULL CHECK (request_hash ~ '^[0-9a-f]{64}$'),
  amount_minor            bigint NOT NULL CHECK (amount_minor > 0),
  currency                char(3) NOT NULL,
  card_last4              char(4) NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$'),
  card_brand              text NOT NULL,
  state                   text NOT NULL CHECK (state IN ('RECEIVED', 'CHARGING', 'CHARGED', 'COMPLETED', 'DECLINED', 'REFUNDING', 'REFUNDED', 'FAILED')),
  charge_id               text,
  decline_code            text,
  failure_reason          text,
  failure_message         text,
  deposit_id              text,
  deposit_error           text,
  refund_id               text,
  charge_attempts         integer NOT NULL DEFAULT 0 CHECK (charge_attempts >= 0),
  deposit_attempts        integer NOT NULL DEFAULT 0 CHECK (deposit_attempts >= 0),
  refund_attempts         integer NOT NULL DEFAULT 0 CHECK (refund_attempts >= 0),
  charge_outcome_unknown  boolean NOT NULL DEFAULT false,
  deposit_outcome_unknown boolean NOT NULL DEFAULT false,
  last_charge_error       text,
  last_charge_attempt_at  timestamptz,
  -- Lease: the worker holding lease_token may act on the row until lease_until (database clock).
  lease_token             uuid,
  lease_until             timestamptz,
  created_at              timestamptz NOT NULL DEFAULT now(),
  updated_at              timestamptz NOT NULL DEFAULT now(),
  finished_at             timestamptz,
  CONSTRAINT top_ups_account_idempotency_key UNIQUE (account_id, idempotency_key),
  -- Money invariants the state machine promises, enforced by the database too.
  CONSTRAINT top_ups_charged_has_charge CHECK (state NOT IN ('CHARGED', 'COMPLETED', 'REFUNDING', 'REFUNDED') OR charge_id IS NOT NULL),
  CONSTRAINT top_ups_completed_has_deposit CHECK (state <> 'COMPLETED' OR (deposit_id IS NOT NULL AND refund_id IS NULL)),
  CONSTRAINT top_ups_refunded_has_refund CHECK (state <> 'REFUNDED' OR (refund_id IS NOT NULL AND deposit_id IS NULL))
);

-- The recovery loop scans only unfinished top-ups.
CREATE INDEX top_ups_unfinished ON card_adapter.top_ups (updated_at)
  WHERE state IN ('RECEIVED', 'CHARGING', 'CHARGED', 'REFUNDING');

-- Audit trail: every state change, written in the same statement as the change.
CREATE TABLE card_adapter.top_up_transitions (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  top_up_id   uuid NOT NULL REFERENCES card_adapter.top_ups (id),
  from_state  text,
  to_state    text NOT NULL,
  detail      jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX top_up_transitions_top_up ON card_adapter.top_up_transitions (top_up_id, id);

-- The in-process payment gateway mock's ledger (the "provider side"). Only
-- the mock writes here; it exists so a charge survives an adapter crash.
CREATE TABLE card_adapter.mock_gateway_charges (
  id                      text PRIMARY KEY,
  idempotency_key         text NOT NULL UNIQUE,
  amount_minor            bigint NOT NULL CHECK (amount_minor > 0),
  currency                char(3) NOT NULL,
  card_last4              char(4) NOT NULL,
  card_brand              text NOT NULL,
  status                  text NOT NULL CHECK (status IN ('succeeded', 'declined')),
  decline_code            text,
  created_at              timestamptz NOT NULL DEFAULT clock_timestamp(),
  refund_id               text UNIQUE,
  refund_idempotency_key  text UNIQUE,
  refunded_at             timestamptz,
  CONSTRAINT mock_gateway_charges_refund_succeeded CHECK (refund_id IS NULL OR status = 'succeeded')
);

-- Down Migration

DROP TABLE card_adapter.mock_gateway_charges;
DROP TABLE card_adapter.top_up_transitions;
DROP TABLE card_adapter.top_ups;
