-- Up Migration
-- Issue #15, a ledger anyone can verify (ADR 0019): every ledger entry carries
-- entry_hash = sha256(canonical text of the entry || the previous entry's hash
-- of the same account). One chain per account, not one global chain: entries
-- of an account are only written while its row is locked, so the previous
-- entry is well defined without a global serialisation point (a global chain
-- would make every transfer wait for every other).
--
-- The canonical text (version 1) is, joined by '|':
--   'v1', id, account_id, amount_minor, balance_after_minor, entry_type,
--   transfer_id, deposit_id, reversal_id, refund_id (empty when NULL),
--   created_at as integer microseconds since the epoch,
--   prev_hash as lower-case hex (empty for an account's first entry).
-- VerifyLedger (src/domain/ledger-chain.ts) recomputes it in TypeScript, so a
-- changed trigger function cannot vouch for itself.

ALTER TABLE bank.ledger_entries
  ADD COLUMN prev_hash  bytea NULL,
  ADD COLUMN entry_hash bytea NULL;

CREATE FUNCTION bank.ledger_entry_canonical(e bank.ledger_entries) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT concat_ws('|', 'v1', e.id::text, e.account_id::text, e.amount_minor::text, e.balance_after_minor::text,
                   e.entry_type, coalesce(e.transfer_id::text, ''), coalesce(e.deposit_id::text, ''),
                   coalesce(e.reversal_id::text, ''), coalesce(e.refund_id::text, ''),
                   (extract(epoch FROM e.created_at) * 1000000)::bigint::text,
                   coalesce(encode(e.prev_hash, 'hex'), ''))
$$;

-- BEFORE INSERT, per row. A multi-row INSERT (the transfer batch writes several
-- entries of one account in one statement from unnest ... ORDER BY n) works:
-- a row-level BEFORE trigger's query sees the rows the same statement
-- inserted before it, and identity ids are drawn in that order. The lookup is
-- one backward step on ledger_entries_account_id_id. The canonical text is
-- spelled out here rather than calling bank.ledger_entry_canonical: a third
-- less CPU per entry (ADR 0019); the integration test checks both agree.
CREATE FUNCTION bank.ledger_entries_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT le.entry_hash INTO NEW.prev_hash
    FROM bank.ledger_entries le
   WHERE le.account_id = NEW.account_id
   ORDER BY le.id DESC
   LIMIT 1;
  NEW.entry_hash := sha256(convert_to(concat_ws('|', 'v1', NEW.id, NEW.account_id, NEW.amount_minor, NEW.balance_after_minor,
    NEW.entry_type, coalesce(NEW.transfer_id::text, ''), coalesce(NEW.deposit_id::text, ''), coalesce(NEW.reversal_id::text, ''),
    coalesce(NEW.refund_id::text, ''), (extract(epoch FROM NEW.created_at) * 1000000)::bigint,
    coalesce(encode(NEW.prev_hash, 'hex'), '')), 'UTF8'));
  RETURN NEW;
END
$$;

-- Backfill the existing entries, account by account in id order (the chain
-- is recursive, so row by row; O(entries), once).
DO $$
DECLARE
  r bank.ledger_entries;
  previous_account uuid := NULL;
  previous_hash bytea := NULL;
BEGIN
  FOR r IN SELECT * FROM bank.ledger_entries ORDER BY account_id, id LOOP
    IF previous_account IS DISTINCT FROM r.account_id THEN
      previous_hash := NULL;
      previous_account := r.account_id;
    END IF;
    r.prev_hash := previous_hash;
    r.entry_hash := sha256(convert_to(bank.ledger_entry_canonical(r), 'UTF8'));
    UPDATE bank.ledger_entries SET prev_hash = r.prev_hash, entry_hash = r.entry_hash WHERE id = r.id;
    previous_hash := r.entry_hash;
  END LOOP;
END
$$;

ALTER TABLE bank.ledger_entries ALTER COLUMN entry_hash SET NOT NULL;

CREATE TRIGGER ledger_entries_chain
  BEFORE INSERT ON bank.ledger_entries
  FOR EACH ROW EXECUTE FUNCTION bank.ledger_entries_chain();

-- The ledger is append-only: the service never updates or deletes an entry.
-- This stops accidents and casual edits; it does not stop a superuser
-- (session_replication_role = replica skips it), which is what the chain is for.
CREATE FUNCTION bank.ledger_entries_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'bank.ledger_entries is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER ledger_entries_append_only
  BEFORE UPDATE OR DELETE ON bank.ledger_entries
  FOR EACH ROW EXECUTE FUNCTION bank.ledger_entries_append_only();

-- Down Migration
DROP TRIGGER ledger_entries_append_only ON bank.ledger_entries;
DROP FUNCTION bank.ledger_entries_append_only();
DROP TRIGGER ledger_entries_chain ON bank.ledger_entries;
DROP FUNCTION bank.ledger_entries_chain();
DROP FUNCTION bank.ledger_entry_canonical(bank.ledger_entries);
ALTER TABLE bank.ledger_entries DROP COLUMN entry_hash, DROP COLUMN prev_hash;
