-- Up Migration

-- Who asked for the top-up: the verified caller's subject (any issuer's "sub"),
-- so every deposit names its initiator, also the recovery loop's deposits,
-- which run without any user token. NULL only for top-ups journaled before
-- identity existed.
ALTER TABLE card_adapter.top_ups
  ADD COLUMN initiated_by text CHECK (initiated_by IS NULL OR char_length(initiated_by) BETWEEN 1 AND 255);

-- Down Migration

ALTER TABLE card_adapter.top_ups DROP COLUMN initiated_by;
