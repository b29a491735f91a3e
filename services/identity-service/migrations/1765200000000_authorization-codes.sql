-- Up Migration

-- OAuth 2.0 authorization codes (RFC 6749 4.1, PKCE RFC 7636): 256 random bits, stored as
-- SHA-256 only, single use, bound to the client, the redirect URI and the S256 challenge.
-- family_id is the refresh-token family the exchange issues: a second use revokes it (RFC 6749 10.5).
CREATE TABLE identity.authorization_codes (
  code_hash bytea PRIMARY KEY CHECK (octet_length(code_hash) = 32),
  client_id text NOT NULL CHECK (char_length(client_id) <= 64),
  redirect_uri text NOT NULL CHECK (char_length(redirect_uri) <= 512),
  code_challenge text NOT NULL CHECK (code_challenge ~ '^[A-Za-z0-9_-]{43}$'),
  user_id uuid NOT NULL REFERENCES identity.users (user_id) ON DELETE CASCADE,
  family_id uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  used_at timestamptz
);
CREATE INDEX authorization_codes_expires_idx ON identity.authorization_codes (expires_at);
