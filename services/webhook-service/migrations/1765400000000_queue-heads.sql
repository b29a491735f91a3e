-- Up Migration
-- Queue heads (ADR 0022 decision 12): each (endpoint, account) queue marks its oldest pending
-- ordered delivery `head`, maintained in the transactions that add to a queue (fan-out) and that
-- finish its head (the dispatcher's outcome), both under the queue's advisory lock. The claim then
-- reads only due heads through a small partial index, instead of sorting every pending delivery
-- (DISTINCT ON) on each claim, a cost that grew with the backlog (121 ms at 9,600 pending, and
-- statement timeouts as it grew while the database restarted in the full chaos run).
ALTER TABLE webhooks.deliveries ADD COLUMN head boolean NOT NULL DEFAULT false;
UPDATE webhooks.deliveries d SET head = true
  FROM (SELECT DISTINCT ON (endpoint_id, account_id) id
          FROM webhooks.deliveries
         WHERE status = 'pending' AND ordered
         ORDER BY endpoint_id, account_id, seq) h
 WHERE d.id = h.id;
CREATE INDEX deliveries_ready ON webhooks.deliveries (next_attempt_at) WHERE status = 'pending' AND (head OR NOT ordered);

-- Down Migration
DROP INDEX webhooks.deliveries_ready;
ALTER TABLE webhooks.deliveries DROP COLUMN head;
