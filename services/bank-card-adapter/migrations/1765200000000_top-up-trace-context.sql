-- Up Migration

-- The W3C traceparent of the request that journaled the top-up (issue #12): the
-- recovery loop's spans link to it, so a top-up finished later is found from
-- its request's trace. Ids only (no data); NULL for older rows. A nullable
-- column without a default: no table rewrite.
ALTER TABLE card_adapter.top_ups
  ADD COLUMN trace_context text CHECK (trace_context IS NULL OR char_length(trace_context) <= 256);

-- Down Migration

ALTER TABLE card_adapter.top_ups DROP COLUMN trace_context;
