-- ClearFrame ledger: database-level guarantees and the posting function (PostgreSQL).
-- The application checks every rule first to give clear errors; these objects
-- check again so that no code path, and no raw SQL, can bypass them.
--
-- Plans: PL/pgSQL caches a generic plan per statement after a few calls. On a
-- brand-new database, before autovacuum has analyzed the tables, such a plan
-- can be a sequential scan; the first ANALYZE invalidates it. Pinning plans
-- with SET clauses or set_config() was measured at ~0.35 ms per call, more than
-- the posting itself, so we rely on statistics instead (docs/performance.md).

-- Postings must belong to an entry written by the same transaction (so that
-- the entry's deferred balance check runs over them), declare that entry's leg
-- count, and use their account's currency. One set-based check per INSERT
-- statement: row-by-row foreign keys cost several index probes per posting.
CREATE FUNCTION ledger_posting_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_bad record;
BEGIN
    SELECT n.entry_id, n.leg_index,
           e.id IS NULL AS no_entry, e.leg_count <> n.leg_count AS wrong_legs,
           e.tx IS DISTINCT FROM pg_current_xact_id()::text::bigint AS old_entry,
           a.id IS NULL AS bad_account
      INTO v_bad
      FROM new_postings n
      LEFT JOIN ledger_entry e ON e.id = n.entry_id
      LEFT JOIN ledger_account a ON a.id = n.account_id AND a.currency = n.currency
     WHERE e.id IS NULL OR e.leg_count <> n.leg_count
        OR e.tx IS DISTINCT FROM pg_current_xact_id()::text::bigint OR a.id IS NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: posting % of entry % is invalid: %', v_bad.leg_index, v_bad.entry_id,
            CASE WHEN v_bad.no_entry THEN 'no such entry'
                 WHEN v_bad.wrong_legs THEN 'its leg count differs from the entry''s'
                 WHEN v_bad.old_entry THEN 'postings can only be written with their entry, in the same transaction'
                 ELSE 'its account does not exist or has another currency' END
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
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

-- An account's identity never changes; only its stored balance and labels do.
CREATE FUNCTION ledger_account_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.code IS DISTINCT FROM OLD.code OR NEW.currency IS DISTINCT FROM OLD.currency
       OR NEW.type IS DISTINCT FROM OLD.type OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'ledger: account % (%) cannot change its code, currency or type', OLD.code, OLD.currency
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER ledger_account_fixed BEFORE UPDATE ON ledger_account
    FOR EACH ROW EXECUTE FUNCTION ledger_account_fixed();

-- Balance: checked at COMMIT; closed periods: checked per INSERT statement.
-- The functions live in postgresql_posting.sql, which is replaced in place.
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced();

CREATE TRIGGER ledger_entry_open_period AFTER INSERT ON ledger_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_check_period();
