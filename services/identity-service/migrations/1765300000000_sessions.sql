-- Up Migration

-- Browser sessions of the identity provider (the sign-in page's cookie): a page reload of the app
-- signs in again without the form while one is valid. The cookie holds 256 random bits; only their
-- SHA-256 is stored. A session ends at expires_at (absolute), after the idle period without use
-- (last_used_at), on sign-out, or when the user's password hash changes (credentials_fingerprint
-- is SHA-256 of the password hash it was created with). Deleting a user deletes its sessions.
CREATE TABLE identity.sessions (
  session_hash bytea PRIMARY KEY CHECK (octet_length(session_hash) = 32),
  user_id uuid NOT NULL REFERENCES identity.users (user_id) ON DELETE CASCADE,
  credentials_fingerprint bytea NOT NULL CHECK (octet_length(credentials_fingerprint) = 32),
  created_at timestamptz NOT NULL,
  last_used_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  CHECK (expires_at > created_at)
);
CREATE INDEX sessions_user_idx ON identity.sessions (user_id, created_at);
CREATE INDEX sessions_expires_idx ON identity.sessions (expires_at);
CREATE INDEX sessions_last_used_idx ON identity.sessions (last_used_at);
