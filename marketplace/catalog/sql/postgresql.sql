-- An asset belongs to a corpus, and a withdrawn one names its withdrawal. The references are checked once per
-- INSERT statement over the statement's new rows instead of by per-row foreign keys: an import of a million
-- assets makes one pass, not a million referential checks at commit (a foreign key queues its check for every
-- row, even one whose reference is NULL). Like the foreign keys, the check takes a key-share lock on each row it
-- relies on, so a corpus or a withdrawal cannot be deleted under an insert that is still running.
CREATE OR REPLACE FUNCTION catalog_asset_check_corpus() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint[];
    withdrawals bigint[];
    found integer;
    bad record;
BEGIN
    SELECT array_agg(DISTINCT corpus_id), array_agg(DISTINCT withdrawal_id) FILTER (WHERE withdrawal_id IS NOT NULL)
      INTO wanted, withdrawals FROM new_assets;
    PERFORM 1 FROM catalog_corpus c WHERE c.id = ANY (wanted) FOR KEY SHARE;
    GET DIAGNOSTICS found = ROW_COUNT;
    IF found < coalesce(cardinality(wanted), 0) THEN
        SELECT n.id, n.corpus_id INTO bad
          FROM new_assets n LEFT JOIN catalog_corpus c ON c.id = n.corpus_id
         WHERE c.id IS NULL LIMIT 1;
        RAISE EXCEPTION 'asset %: corpus % does not exist', bad.id, bad.corpus_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF withdrawals IS NOT NULL THEN
        PERFORM 1 FROM catalog_withdrawal w WHERE w.id = ANY (withdrawals) FOR KEY SHARE;
        GET DIAGNOSTICS found = ROW_COUNT;
        IF found < cardinality(withdrawals) THEN
            SELECT n.id, n.withdrawal_id INTO bad
              FROM new_assets n LEFT JOIN catalog_withdrawal w ON w.id = n.withdrawal_id
             WHERE n.withdrawal_id IS NOT NULL AND w.id IS NULL LIMIT 1;
            RAISE EXCEPTION 'asset %: withdrawal % does not exist', bad.id, bad.withdrawal_id
                USING ERRCODE = 'foreign_key_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS catalog_asset_corpus_refs ON catalog_asset;
CREATE TRIGGER catalog_asset_corpus_refs AFTER INSERT ON catalog_asset
    REFERENCING NEW TABLE AS new_assets FOR EACH STATEMENT EXECUTE FUNCTION catalog_asset_check_corpus();

-- An asset never moves to another corpus.
CREATE OR REPLACE FUNCTION catalog_asset_corpus_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'asset %: its corpus cannot change', OLD.id USING ERRCODE = 'integrity_constraint_violation';
END $$;

DROP TRIGGER IF EXISTS catalog_asset_corpus_fixed ON catalog_asset;
CREATE TRIGGER catalog_asset_corpus_fixed BEFORE UPDATE OF corpus_id ON catalog_asset
    FOR EACH ROW WHEN (NEW.corpus_id IS DISTINCT FROM OLD.corpus_id) EXECUTE FUNCTION catalog_asset_corpus_fixed();

-- What the foreign key's ON DELETE RESTRICT did: a corpus with assets cannot go.
CREATE OR REPLACE FUNCTION catalog_corpus_keep_assets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM catalog_asset WHERE corpus_id = OLD.id) THEN
        RAISE EXCEPTION 'corpus % has assets and cannot be deleted', OLD.id USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN OLD;
END $$;

DROP TRIGGER IF EXISTS catalog_corpus_keep_assets ON catalog_corpus;
CREATE TRIGGER catalog_corpus_keep_assets BEFORE DELETE ON catalog_corpus
    FOR EACH ROW EXECUTE FUNCTION catalog_corpus_keep_assets();

-- A withdrawal an asset is moved to exists (the foreign key's check on UPDATE; only takedowns set it).
CREATE OR REPLACE FUNCTION catalog_asset_check_withdrawal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM catalog_withdrawal w WHERE w.id = NEW.withdrawal_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'asset %: withdrawal % does not exist', NEW.id, NEW.withdrawal_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS catalog_asset_withdrawal_ref ON catalog_asset;
CREATE TRIGGER catalog_asset_withdrawal_ref BEFORE UPDATE OF withdrawal_id ON catalog_asset
    FOR EACH ROW WHEN (NEW.withdrawal_id IS NOT NULL AND NEW.withdrawal_id IS DISTINCT FROM OLD.withdrawal_id)
    EXECUTE FUNCTION catalog_asset_check_withdrawal();

-- What the foreign key's ON DELETE RESTRICT did: a withdrawal that assets name cannot go, nor change its id.
CREATE OR REPLACE FUNCTION catalog_withdrawal_keep_assets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT 1 FROM catalog_asset WHERE withdrawal_id = OLD.id) THEN
        RAISE EXCEPTION 'withdrawal % is named by assets and cannot be deleted or renumbered', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

DROP TRIGGER IF EXISTS catalog_withdrawal_keep_assets ON catalog_withdrawal;
CREATE TRIGGER catalog_withdrawal_keep_assets BEFORE DELETE OR UPDATE OF id ON catalog_withdrawal
    FOR EACH ROW EXECUTE FUNCTION catalog_withdrawal_keep_assets();
