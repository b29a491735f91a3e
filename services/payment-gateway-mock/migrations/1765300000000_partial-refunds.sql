-- Up Migration

-- Issue #15: refunds to the card, in parts. One row per refund idempotency
-- key; the refunds of a charge never sum to more than the charge (checked
-- under the charge's row lock). charges.refund_id now names the refund that
-- completed the charge's refund (NULL while any of it is unrefunded).
CREATE TABLE payment_gateway_mock.refunds (
  id              text PRIMARY KEY,
  charge_id       text NOT NULL REFERENCES payment_gateway_mock.charges (id),
  idempotency_key text NOT NULL UNIQUE CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
  currency        char(3) NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX refunds_charge_id ON payment_gateway_mock.refunds (charge_id);

-- Full refunds made before this migration.
INSERT INTO payment_gateway_mock.refunds (id, charge_id, idempotency_key, amount_minor, currency, created_at)
SELECT refund_id, id, refund_idempotency_key, amount_minor, currency, refunded_at
  FROM payment_gateway_mock.charges WHERE refund_id IS NOT NULL;

-- Test cards whose refunds misbehave: 'timeout' never answers and refunds
-- nothing; 'answer_lost' refunds, then answers after the caller's deadline.
ALTER TABLE payment_gateway_mock.charges
  ADD COLUMN refund_fault text NULL CHECK (refund_fault IN ('timeout', 'answer_lost'));

-- Down Migration

ALTER TABLE payment_gateway_mock.charges DROP COLUMN refund_fault;
DROP TABLE payment_gateway_mock.refunds;
