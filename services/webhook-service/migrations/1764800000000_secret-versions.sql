-- Up Migration
-- Signing secrets by version (issue 15: rotation). Version 1 is the registration's secret
-- (endpoints.secret_ciphertext stays: the registration's replay answers it, and a process of the
-- previous release still reads it during a rolling upgrade); each rotation adds one version.
CREATE TABLE webhooks.endpoint_secrets (
  endpoint_id uuid NOT NULL REFERENCES webhooks.endpoints (id),
  version integer NOT NULL CHECK (version >= 1),
  -- AES-256-GCM like endpoints.secret_ciphertext; associated data: the endpoint id (version 1)
  -- or "<endpoint id>/v<version>", so a ciphertext opens only as its own endpoint and version.
  secret_ciphertext bytea NOT NULL,
  -- NULL: the current secret. Otherwise deliveries carry its signature until this instant.
  expires_at timestamptz,
  -- The rotation's Idempotency-Key and request hash (NULL for version 1: the registration's key).
  idempotency_key text CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  request_hash text,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (endpoint_id, version),
  UNIQUE (endpoint_id, idempotency_key)
);

INSERT INTO webhooks.endpoint_secrets (endpoint_id, version, secret_ciphertext, created_at)
SELECT id, 1, secret_ciphertext, created_at FROM webhooks.endpoints;

ALTER TABLE webhooks.endpoints ADD COLUMN secret_version integer NOT NULL DEFAULT 1;

-- Which secret versions signed the last attempt, newest first (the delivery log shows it).
ALTER TABLE webhooks.deliveries ADD COLUMN last_secret_versions integer[] NOT NULL DEFAULT '{}';

-- Down Migration
ALTER TABLE webhooks.deliveries DROP COLUMN last_secret_versions;
ALTER TABLE webhooks.endpoints DROP COLUMN secret_version;
DROP TABLE webhooks.endpoint_secrets;
