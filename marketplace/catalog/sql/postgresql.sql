-- An asset belongs to a corpus. The reference is checked once per INSERT statement over the statement's new
-- rows instead of by a per-row foreign key: an import of a million assets makes one join, not a million
-- referential checks at commit. Like the foreign key, the check takes a key-share lock on each corpus it
-- relies on, so a corpus cannot be deleted under an insert that is still running.
CREATE OR REPLACE FUNCTION catalog_asset_check_corpus() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    wanted bigint[];
    found integer;
    bad record;
BEGIN
    SELECT array_agg(DISTINCT corpus_id) INTO wanted FROM new_assets;
    PERFORM 1 FROM catalog_corpus c WHERE c.id = ANY (wanted) FOR KEY SHARE;
    GET DIAGNOSTICS found = ROW_COUNT;
    IF found < coalesce(cardinality(wanted), 0) THEN
        SELECT n.id, n.corpus_id INTO bad
          FROM new_assets n LEFT JOIN catalog_corpus c ON c.id = n.corpus_id
         WHERE c.id IS NULL LIMIT 1;
        RAISE EXCEPTION 'asset %: corpus % does not exist', bad.id, bad.corpus_id
            USING ERRCODE = 'foreign_key_violation';
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
