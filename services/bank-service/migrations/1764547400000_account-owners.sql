-- Up Migration
-- Identity (issue #10): every customer account belongs to one user, and every
-- movement records who made it. Owners are any issuer's "sub" (text, not a
-- UUID: Keycloak, Auth0, Entra ID all differ); NULL only for the settlement
-- account and accounts opened before owners existed (only admin/support reach
-- those). Owners never change, so the service may cache them.
ALTER TABLE bank.accounts
  ADD COLUMN owner_id text NULL CONSTRAINT accounts_owner_id_length CHECK (char_length(owner_id) BETWEEN 1 AND 255);
-- ListAccounts: one owner's accounts, oldest first.
CREATE INDEX accounts_owner_id_created_at ON bank.accounts (owner_id, created_at, id) WHERE owner_id IS NOT NULL;

-- Subject of the verified caller who made the movement; NULL for rows written before identity existed.
ALTER TABLE bank.transfers
  ADD COLUMN initiated_by text NULL CONSTRAINT transfers_initiated_by_length CHECK (char_length(initiated_by) BETWEEN 1 AND 255);
ALTER TABLE bank.deposits
  ADD COLUMN initiated_by text NULL CONSTRAINT deposits_initiated_by_length CHECK (char_length(initiated_by) BETWEEN 1 AND 255);

-- The development users of the identity-service own the plan's two accounts.
UPDATE bank.accounts SET owner_id = '11111111-1111-4111-8111-111111111111'
 WHERE id = '123e4567-e89b-12d3-a456-426614174000' AND owner_id IS NULL;
UPDATE bank.accounts SET owner_id = '22222222-2222-4222-8222-222222222222'
 WHERE id = '987e6543-e21b-34d3-c456-426614174999' AND owner_id IS NULL;

-- CreateAccount is idempotent on (owner, key): a retry never opens a second
-- account; the same key with another request is IDEMPOTENCY_KEY_REUSED.
CREATE TABLE bank.account_openings (
  owner_id        text        NOT NULL CHECK (char_length(owner_id) BETWEEN 1 AND 255),
  idempotency_key text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  -- sha256 (hex) of the normalised request (owner, currency).
  request_hash    text        NOT NULL,
  account_id      uuid        NOT NULL UNIQUE REFERENCES bank.accounts (id),
  created_at      timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT account_openings_pkey PRIMARY KEY (owner_id, idempotency_key)
);

-- Down Migration
DROP TABLE bank.account_openings;
ALTER TABLE bank.deposits DROP COLUMN initiated_by;
ALTER TABLE bank.transfers DROP COLUMN initiated_by;
DROP INDEX bank.accounts_owner_id_created_at;
ALTER TABLE bank.accounts DROP COLUMN owner_id;
