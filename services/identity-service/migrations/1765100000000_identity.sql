-- Up Migration

CREATE SCHEMA IF NOT EXISTS identity;
-- Users, service clients, refresh tokens, login failures and signing keys of the identity provider.

CREATE TABLE identity.users (
  user_id uuid PRIMARY KEY,
  username text NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9._-]{3,64}$'),
  password_hash text NOT NULL,
  roles text[] NOT NULL DEFAULT ARRAY['customer'] CHECK (roles <@ ARRAY['customer', 'support', 'admin'] AND cardinality(roles) > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Back-office and service clients (client_credentials); the secret is stored as an argon2id hash.
CREATE TABLE identity.clients (
  client_id text PRIMARY KEY CHECK (client_id ~ '^[A-Za-z0-9._-]{3,64}$'),
  secret_hash text NOT NULL,
  roles text[] NOT NULL DEFAULT ARRAY[]::text[] CHECK (roles <@ ARRAY['customer', 'support', 'admin']),
  scopes text[] NOT NULL DEFAULT ARRAY[]::text[],
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Opaque refresh tokens, stored as SHA-256 of the token (high entropy, so a fast hash suffices).
-- A family is every token descended from one login; reuse of a rotated token revokes the family.
CREATE TABLE identity.refresh_tokens (
  token_hash bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
  family_id uuid NOT NULL,
  user_id uuid NOT NULL REFERENCES identity.users (user_id) ON DELETE CASCADE,
  client_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  rotated_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON identity.refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_idx ON identity.refresh_tokens (expires_at);

-- Consecutive failed logins per username (known or not, so locking does not reveal which exist).
CREATE TABLE identity.login_failures (
  username text PRIMARY KEY CHECK (char_length(username) <= 64),
  failures integer NOT NULL CHECK (failures >= 0),
  first_failure_at timestamptz NOT NULL,
  locked_until timestamptz
);

-- Signing keys: the public JWK is published, the private JWK is AES-256-GCM encrypted.
-- superseded_at is set when a newer key takes over; the key stays published until
-- the tokens it signed have expired.
CREATE TABLE identity.signing_keys (
  kid text PRIMARY KEY,
  algorithm text NOT NULL CHECK (algorithm IN ('ES256', 'EdDSA')),
  public_jwk jsonb NOT NULL,
  private_jwk_encrypted bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  superseded_at timestamptz
);
CREATE UNIQUE INDEX signing_keys_one_current_idx ON identity.signing_keys ((superseded_at IS NULL)) WHERE superseded_at IS NULL;
