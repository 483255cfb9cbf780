-- ClearFrame ledger: database-level guarantees and the posting function (PostgreSQL).
-- The application checks every rule first to give clear errors; these objects
-- check again so that no code path, and no raw SQL, can bypass them.
--
-- Plans: PL/pgSQL caches a generic plan per statement after a few calls. On a
-- brand-new database, before autovacuum has analyzed the tables, such a plan
-- can be a sequential scan; the first ANALYZE invalidates it. Pinning plans
-- with SET clauses or set_config() was measured at ~0.35 ms per call, more than
-- the posting itself, so we rely on statistics instead (docs/performance.md).

-- Postings must belong to an entry written by the same transaction, declare
-- that entry's leg count, and use their account's currency: one set-based
-- check per INSERT statement (ADR 0005), ledger_posting_check_refs in
-- postgresql_posting.sql.
CREATE TRIGGER ledger_posting_refs AFTER INSERT ON ledger_posting
    REFERENCING NEW TABLE AS new_postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_posting_check_refs();

-- Balances and day totals are updated in place on every post: leave room on
-- each page so those updates are HOT (no index churn, no bloat).
ALTER TABLE ledger_account SET (fillfactor = 50);
ALTER TABLE ledger_account_day SET (fillfactor = 70);

-- The sealer reads entries by the inserting transaction's id; entries arrive
-- in roughly that order, so a BRIN index is tiny and nearly free to maintain.
CREATE INDEX ledger_entry_tx_brin ON ledger_entry USING brin (tx);

-- Immutability ----------------------------------------------------------------
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger: % on % is not allowed; the ledger is append-only (post a reversal instead)',
        TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
END $$;

CREATE TRIGGER ledger_entry_immutable BEFORE UPDATE OR DELETE ON ledger_entry
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_posting_immutable BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_period_close_immutable BEFORE UPDATE OR DELETE ON ledger_period_close
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_chain_seal_immutable BEFORE UPDATE OR DELETE ON ledger_chain_seal
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_chain_block_immutable BEFORE UPDATE OR DELETE ON ledger_chain_block
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_account_day_no_delete BEFORE DELETE ON ledger_account_day
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

-- An account's identity never changes, nor its no-overdraft rule; only its stored balance and labels do.
CREATE FUNCTION ledger_account_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.code IS DISTINCT FROM OLD.code OR NEW.currency IS DISTINCT FROM OLD.currency
       OR NEW.type IS DISTINCT FROM OLD.type OR NEW.id IS DISTINCT FROM OLD.id
       OR NEW.forbid_negative IS DISTINCT FROM OLD.forbid_negative THEN
        RAISE EXCEPTION 'ledger: account % (%) cannot change its code, currency, type or no-overdraft rule',
            OLD.code, OLD.currency USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
-- Only when one of those columns is assigned: balance updates skip the call.
CREATE TRIGGER ledger_account_fixed BEFORE UPDATE OF code, currency, type, id, forbid_negative ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_fixed();

-- Balance: checked at COMMIT; closed periods: checked per INSERT statement.
-- Migrations 0020 and 0022 recreate ledger_entry_balanced with a WHEN clause: only entries whose legs are
-- rows, and not checked in batch, are checked one by one.
-- The functions live in postgresql_posting.sql, which is replaced in place.
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced();

CREATE TRIGGER ledger_entry_open_period AFTER INSERT ON ledger_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_check_period();
