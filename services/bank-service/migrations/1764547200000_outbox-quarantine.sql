-- Up Migration
-- Outbox events Kafka refused for good (record too large, invalid record or
-- topic). The relay moves a row here in one statement, with the broker's
-- reason, so one poison event never blocks the outbox. Inspect, fix and move
-- back into bank.outbox to re-send; bank_outbox_events_quarantined_total alerts.
CREATE TABLE bank.outbox_quarantine (
  id             bigint      PRIMARY KEY,
  account_id     uuid        NOT NULL,
  event_type     text        NOT NULL,
  payload        jsonb       NOT NULL,
  created_at     timestamptz NOT NULL,
  quarantined_at timestamptz NOT NULL DEFAULT now(),
  reason         text        NOT NULL
);

-- Down Migration
DROP TABLE bank.outbox_quarantine;
