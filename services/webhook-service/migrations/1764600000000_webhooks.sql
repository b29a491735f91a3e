-- Up Migration
CREATE SCHEMA IF NOT EXISTS webhooks;

-- Webhook endpoints, the events they were fanned out from, and one delivery per (endpoint, event).
CREATE TABLE webhooks.endpoints (
  id uuid PRIMARY KEY,
  owner_id text NOT NULL CHECK (char_length(owner_id) BETWEEN 1 AND 255),
  -- Registered by an admin: receives the events of every account.
  all_accounts boolean NOT NULL,
  url text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
  events text[] NOT NULL CHECK (cardinality(events) >= 1),
  enabled boolean NOT NULL DEFAULT true,
  -- AES-256-GCM: 12-byte nonce || 16-byte tag || ciphertext, the endpoint id as associated data.
  secret_ciphertext bytea NOT NULL,
  idempotency_key text NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_hash text NOT NULL,
  created_at timestamptz NOT NULL,
  disabled_at timestamptz,
  UNIQUE (owner_id, idempotency_key)
);
CREATE INDEX endpoints_owner ON webhooks.endpoints (owner_id, created_at);
CREATE INDEX endpoints_enabled ON webhooks.endpoints USING gin (events) WHERE enabled;

-- Every event consumed once (idempotent on eventId); body is the exact JSON sent and signed.
CREATE TABLE webhooks.events (
  event_id uuid PRIMARY KEY,
  event_type text NOT NULL,
  account_id uuid NOT NULL,
  body text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhooks.deliveries (
  id uuid PRIMARY KEY,
  -- Per-account order: deliveries of one (endpoint, account) go out by seq (consumption order).
  seq bigserial NOT NULL,
  endpoint_id uuid NOT NULL REFERENCES webhooks.endpoints (id),
  event_id uuid NOT NULL REFERENCES webhooks.events (event_id),
  event_type text NOT NULL,
  account_id uuid NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  -- false after a manual redelivery of a finished delivery: it no longer holds back later ones.
  ordered boolean NOT NULL DEFAULT true,
  attempts integer NOT NULL DEFAULT 0,
  last_status_code integer NOT NULL DEFAULT 0,
  last_error text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  next_attempt_at timestamptz NOT NULL,
  -- After this instant a failed attempt gives up (created_at or the redelivery + the retry window).
  give_up_at timestamptz NOT NULL,
  delivered_at timestamptz,
  -- A dispatcher that claimed the delivery owns it until then (several replicas).
  lease_token uuid,
  lease_until timestamptz,
  UNIQUE (endpoint_id, event_id)
);
CREATE INDEX deliveries_queue ON webhooks.deliveries (endpoint_id, account_id, seq) WHERE status = 'pending';
CREATE INDEX deliveries_due ON webhooks.deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_log ON webhooks.deliveries (endpoint_id, created_at DESC, id DESC);

-- Down Migration
DROP TABLE webhooks.deliveries;
DROP TABLE webhooks.events;
DROP TABLE webhooks.endpoints;
