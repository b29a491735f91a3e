-- Up Migration
-- Tracing (issue #12): each outbox row keeps the W3C traceparent of the request
-- that caused it, so the relay's Kafka produce span joins that request's trace.
-- NULL for rows written before this migration (they still publish, in a trace
-- of their own) and for writers without a trace context. Only a traceparent is
-- stored ("00-<32 hex>-<16 hex>-<2 hex>", 55 characters), never tracestate or
-- baggage, so the bound is tight; the quarantine keeps it when a row moves there.
ALTER TABLE bank.outbox
  ADD COLUMN trace_context text NULL CONSTRAINT outbox_trace_context_length CHECK (char_length(trace_context) BETWEEN 1 AND 128);
ALTER TABLE bank.outbox_quarantine
  ADD COLUMN trace_context text NULL CONSTRAINT outbox_quarantine_trace_context_length CHECK (char_length(trace_context) BETWEEN 1 AND 128);

-- Down Migration
ALTER TABLE bank.outbox_quarantine DROP COLUMN trace_context;
ALTER TABLE bank.outbox DROP COLUMN trace_context;
