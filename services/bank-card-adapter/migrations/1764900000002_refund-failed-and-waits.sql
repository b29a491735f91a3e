-- Up Migration

-- REFUND_FAILED: the gateway refused the refund; the card is left charged and
-- an operator must act. It is final, and the charge is known to exist.
ALTER TABLE card_adapter.top_ups DROP CONSTRAINT top_ups_state_check;
ALTER TABLE card_adapter.top_ups ADD CONSTRAINT top_ups_state_check
  CHECK (state IN ('RECEIVED', 'CHARGING', 'CHARGED', 'COMPLETED', 'DECLINED', 'REFUNDING', 'REFUNDED', 'REFUND_FAILED', 'FAILED'));
ALTER TABLE card_adapter.top_ups DROP CONSTRAINT top_ups_charged_has_charge;
ALTER TABLE card_adapter.top_ups ADD CONSTRAINT top_ups_charged_has_charge
  CHECK (state NOT IN ('CHARGED', 'COMPLETED', 'REFUNDING', 'REFUNDED', 'REFUND_FAILED') OR charge_id IS NOT NULL);

-- wait_rounds: how often the top-up was left to wait for the bank or the
-- gateway (the exponent of its durable backoff). reconciled_at: a failed
-- top-up's charge key was checked at the gateway and needs nothing more.
ALTER TABLE card_adapter.top_ups
  ADD COLUMN wait_rounds integer NOT NULL DEFAULT 0 CHECK (wait_rounds >= 0),
  ADD COLUMN reconciled_at timestamptz;

-- The reconciliation pass scans only failed top-ups whose charge outcome was once unknown.
CREATE INDEX top_ups_to_reconcile ON card_adapter.top_ups (created_at)
  WHERE state = 'FAILED' AND reconciled_at IS NULL AND charge_outcome_unknown;

-- Down Migration

DROP INDEX card_adapter.top_ups_to_reconcile;
ALTER TABLE card_adapter.top_ups DROP COLUMN reconciled_at, DROP COLUMN wait_rounds;
ALTER TABLE card_adapter.top_ups DROP CONSTRAINT top_ups_charged_has_charge;
ALTER TABLE card_adapter.top_ups ADD CONSTRAINT top_ups_charged_has_charge
  CHECK (state NOT IN ('CHARGED', 'COMPLETED', 'REFUNDING', 'REFUNDED') OR charge_id IS NOT NULL);
ALTER TABLE card_adapter.top_ups DROP CONSTRAINT top_ups_state_check;
ALTER TABLE card_adapter.top_ups ADD CONSTRAINT top_ups_state_check
  CHECK (state IN ('RECEIVED', 'CHARGING', 'CHARGED', 'COMPLETED', 'DECLINED', 'REFUNDING', 'REFUNDED', 'FAILED'));
