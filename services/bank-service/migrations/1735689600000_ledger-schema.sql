-- Up Migration
-- The bank ledger. Money is BIGINT minor units (cents); every movement is a
-- balanced pair of ledger entries written in the same transaction as the
-- balance change, the business record and its outbox events.

CREATE TABLE bank.accounts (
  id            uuid        PRIMARY KEY,
  kind          text        NOT NULL DEFAULT 'customer' CHECK (kind IN ('customer', 'settlement')),
  currency      char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  balance_minor bigint      NOT NULL DEFAULT 0,
  -- Incremented on every change of the row.
  version       bigint      NOT NULL DEFAULT 0,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  -- Customers can never be overdrawn; the settlement account mirrors money
  -- held outside the wallet and is negative by design.
  CONSTRAINT accounts_balance_non_negative CHECK (kind = 'settlement' OR balance_minor >= 0)
);

CREATE TABLE bank.transfers (
  id                   uuid        PRIMARY KEY,
  sender_account_id    uuid        NOT NULL REFERENCES bank.accounts (id),
  recipient_account_id uuid        NOT NULL REFERENCES bank.accounts (id),
  amount_minor         bigint      NOT NULL CHECK (amount_minor > 0),
  currency             char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status               text        NOT NULL DEFAULT 'completed' CHECK (status IN ('completed')),
  description          text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 140),
  idempotency_key      text        NOT NULL CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
  -- sha256 (hex) of the normalised request: same key + other hash = key reuse.
  request_hash         text        NOT NULL,
  created_at           timestamptz NOT NULL DEFAULT now(),
  -- The backstop for idempotency races; also the replay lookup index.
  CONSTRAINT transfers_sender_idempotency_key UNIQUE (sender_account_id, idempotency_key),
  CONSTRAINT transfers_distinct_accounts CHECK (sender_account_id <> recipient_account_id)
);

CREATE TABLE bank.deposits (
  id                uuid        PRIMARY KEY,
  account_id        uuid        NOT NULL REFERENCES bank.accounts (id),
  amount_minor      bigint      NOT NULL CHECK (amount_minor > 0),
  currency          char(3)     NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  deposit_reference text        NOT NULL CHECK (char_length(deposit_reference) BETWEEN 1 AND 255),
  top_up_id         uuid        NOT NULL,
  card_last4        char(4)     NOT NULL CHECK (card_last4 ~ '^[0-9]{4}$'),
  card_brand        text        NOT NULL DEFAULT '' CHECK (char_length(card_brand) <= 32),
  request_hash      text        NOT NULL,
  created_at        timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT deposits_deposit_reference_key UNIQUE (deposit_reference)
);

CREATE TABLE bank.ledger_entries (
  id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id          uuid        NOT NULL REFERENCES bank.accounts (id),
  -- Signed: negative = debit (money leaves the account), positive = credit.
  amount_minor        bigint      NOT NULL CHECK (amount_minor <> 0),
  balance_after_minor bigint      NOT NULL,
  entry_type          text        NOT NULL CHECK (entry_type IN ('transfer', 'deposit', 'opening')),
  transfer_id         uuid        REFERENCES bank.transfers (id),
  deposit_id          uuid        REFERENCES bank.deposits (id),
  created_at          timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT ledger_entries_reference CHECK (
    (entry_type = 'transfer' AND transfer_id IS NOT NULL AND deposit_id IS NULL) OR
    (entry_type = 'deposit' AND deposit_id IS NOT NULL AND transfer_id IS NULL) OR
    (entry_type = 'opening' AND transfer_id IS NULL AND deposit_id IS NULL))
);
-- An account's statement, newest or oldest first.
CREATE INDEX ledger_entries_account_id_id ON bank.ledger_entries (account_id, id);

-- Transactional outbox: written in the same transaction as the movement; a
-- relay (src/outbox/) publishes rows to Kafka topic wallet.operations with
-- key = account_id. Per account, id order is commit order, because rows of
-- one account are only written while holding that account's row lock.
CREATE TABLE bank.outbox (
  id         bigserial   PRIMARY KEY,
  account_id uuid        NOT NULL,
  event_type text        NOT NULL CHECK (event_type IN ('transfer_out', 'transfer_in', 'topup')),
  payload    jsonb       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE bank.outbox;
DROP TABLE bank.ledger_entries;
DROP TABLE bank.deposits;
DROP TABLE bank.transfers;
DROP TABLE bank.accounts;
