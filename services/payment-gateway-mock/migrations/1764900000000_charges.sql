-- Up Migration

CREATE SCHEMA IF NOT EXISTS payment_gateway_mock;

-- The provider's ledger: one row per charge idempotency key. Only last4 and
-- brand of the card are kept, never the number or the CVC.
CREATE TABLE payment_gateway_mock.charges (
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
  -- False for the test card whose refunds the issuer refuses.
  refundable              boolean NOT NULL DEFAULT true,
  CONSTRAINT charges_refund_succeeded CHECK (refund_id IS NULL OR status = 'succeeded')
);

CREATE INDEX charges_created_at ON payment_gateway_mock.charges (created_at DESC);

-- Down Migration

DROP TABLE payment_gateway_mock.charges;
