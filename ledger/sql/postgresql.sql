-- ClearFrame ledger: database-level guarantees and the posting function (PostgreSQL).
-- The application checks every rule first to give clear errors; these objects
-- check again so that no code path, and no raw SQL, can bypass them.

-- Postings point at (entry, leg_count) and (account, currency): a posting can
-- only use its account's currency and can only exist as one of its entry's
-- declared legs.
ALTER TABLE ledger_posting
    ADD CONSTRAINT ledger_posting_entry_fk FOREIGN KEY (entry_id, leg_count)
        REFERENCES ledger_entry (id, leg_count) DEFERRABLE INITIALLY DEFERRED,
    ADD CONSTRAINT ledger_posting_account_fk FOREIGN KEY (account_id, currency)
        REFERENCES ledger_account (id, currency) DEFERRABLE INITIALLY DEFERRED;

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

-- Balance: checked once per entry, at COMMIT --------------------------------
CREATE FUNCTION ledger_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_legs bigint;
    v_off text;
BEGIN
    SELECT sum(n), string_agg(currency || ' ' || s, ', ') FILTER (WHERE s <> 0)
      INTO v_legs, v_off
      FROM (SELECT currency, sum(amount) AS s, count(*) AS n
              FROM ledger_posting WHERE entry_id = NEW.id GROUP BY currency) t;
    IF coalesce(v_legs, 0) <> NEW.leg_count THEN
        RAISE EXCEPTION 'ledger: entry % has % postings but declares %', NEW.id, coalesce(v_legs, 0), NEW.leg_count
            USING ERRCODE = 'check_violation';
    END IF;
    IF v_off IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: entry % does not balance (%)', NEW.id, v_off
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_entry_balanced AFTER INSERT ON ledger_entry
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced();

-- Closed periods: one set-based check per INSERT statement ------------------
CREATE FUNCTION ledger_entry_check_period() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_closed date;
    v_bad record;
BEGIN
    SELECT max(through_date) INTO v_closed FROM ledger_period_close;
    IF v_closed IS NOT NULL THEN
        SELECT id, effective_date INTO v_bad FROM new_entries WHERE effective_date <= v_closed LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger: entry % is dated %, inside a closed period (closed through %)',
                v_bad.id, v_bad.effective_date, v_closed USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER ledger_entry_open_period AFTER INSERT ON ledger_entry
    REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_check_period();

-- Posting: one round trip for one entry or twenty thousand ------------------
-- Arrays are parallel: p_* per entry, p_leg_* per leg (p_leg_entry is the
-- 1-based entry ordinal). Errors the caller can act on are raised with a
-- 'ledger:<code>' message and a JSON detail that Python turns into typed errors.
CREATE FUNCTION ledger_post_entries(
    p_keys text[], p_request_hashes text[], p_content_hashes text[], p_effective_dates date[],
    p_descriptions text[], p_metadata jsonb[], p_reverses bigint[], p_leg_counts smallint[],
    p_posted_at timestamptz,
    p_leg_entry int[], p_leg_index smallint[], p_leg_code text[], p_leg_currency text[], p_leg_amount bigint[]
) RETURNS TABLE (ord int, entry_id bigint, created boolean, effective_date date)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n int := cardinality(p_keys);
    v_acc bigint[];
    v_missing record;
    v_any_forbid boolean;
    v_closed date;
    v_bad record;
    v_existing_id bigint[] := array_fill(NULL::bigint, ARRAY[n]);
    v_existing_date date[] := array_fill(NULL::date, ARRAY[n]);
    v_ids bigint[];
    v_new_count int;
BEGIN
    -- 1. Resolve account codes and lock the accounts in id order: one global
    --    lock order, so concurrent posters queue instead of deadlocking.
    SELECT array_agg(a.id ORDER BY l.i), bool_or(a.forbid_negative)
      INTO v_acc, v_any_forbid
      FROM unnest(p_leg_code, p_leg_currency) WITH ORDINALITY AS l(code, cur, i)
      LEFT JOIN ledger_account a ON a.code = l.code AND a.currency = l.cur;
    IF array_position(v_acc, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ledger:unknown_account' USING DETAIL = json_build_object(
            'code', p_leg_code[array_position(v_acc, NULL)],
            'currency', p_leg_currency[array_position(v_acc, NULL)])::text;
    END IF;
    PERFORM 1 FROM ledger_account WHERE id = ANY (v_acc) ORDER BY id FOR UPDATE;

    -- 2. Idempotency first: a replay returns the stored entry even if its period
    --    has closed since; a different payload is refused.
    FOR v_bad IN
            SELECT k.i, e.id, e.request_hash, k.key, e.effective_date
              FROM unnest(p_keys) WITH ORDINALITY AS k(key, i)
              JOIN ledger_entry e ON e.idempotency_key = k.key
             WHERE k.key IS NOT NULL
        LOOP
            IF v_bad.request_hash <> p_request_hashes[v_bad.i] THEN
                RAISE EXCEPTION 'ledger:idempotency_conflict' USING DETAIL = json_build_object(
                    'key', v_bad.key, 'entry_id', v_bad.id)::text;
            END IF;
            v_existing_id[v_bad.i] := v_bad.id;
            v_existing_date[v_bad.i] := v_bad.effective_date;
        END LOOP;

    -- 3. Closed periods, for entries that are new.
    SELECT max(through_date) INTO v_closed FROM ledger_period_close;
    IF v_closed IS NOT NULL THEN
        SELECT d.d INTO v_bad FROM unnest(p_effective_dates) WITH ORDINALITY AS d(d, i)
         WHERE d.d <= v_closed AND v_existing_id[d.i] IS NULL LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger:period_closed' USING DETAIL = json_build_object(
                'effective_date', v_bad.d, 'closed_through', v_closed)::text;
        END IF;
    END IF;

    -- 4. Reversals: each entry may be reversed once.
    IF EXISTS (SELECT 1 FROM unnest(p_reverses) AS r WHERE r IS NOT NULL) THEN
        SELECT r.rev, e.id AS reversal INTO v_bad
          FROM unnest(p_reverses) WITH ORDINALITY AS r(rev, i)
          JOIN ledger_entry e ON e.reverses_id = r.rev
         WHERE r.rev IS NOT NULL AND v_existing_id[r.i] IS NULL
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger:already_reversed' USING DETAIL = json_build_object(
                'entry_id', v_bad.rev, 'reversal_id', v_bad.reversal)::text;
        END IF;
    END IF;

    -- 5. Ids are taken only now, with the accounts locked, so that on every
    --    account the order of entry ids is the order of its running balance.
    SELECT count(*) INTO v_new_count FROM unnest(v_existing_id) AS x WHERE x IS NULL;
    SELECT array_agg(x ORDER BY x) INTO v_ids
      FROM (SELECT nextval('ledger_entry_id_seq') AS x FROM generate_series(1, v_new_count)) s;
    -- Map ordinals of new entries to ids (replays keep their stored id).
    SELECT array_agg(CASE WHEN v_existing_id[i] IS NULL THEN v_ids[new_rank] END ORDER BY i)
      INTO v_ids
      FROM (SELECT i, count(*) FILTER (WHERE v_existing_id[i] IS NULL) OVER (ORDER BY i) AS new_rank
              FROM generate_series(1, n) AS i) r;

    -- 6. No-overdraft accounts: check every running balance, not only the last.
    IF v_any_forbid THEN
        SELECT r.code, r.currency, r.type, r.net, r.running INTO v_bad
          FROM (SELECT a.code, a.currency, a.type, a.net,
                       a.net + sum(l.amt) OVER (PARTITION BY l.acc ORDER BY v_ids[l.e], l.li) AS running
                  FROM unnest(p_leg_entry, p_leg_index, v_acc, p_leg_amount) AS l(e, li, acc, amt)
                  JOIN ledger_account a ON a.id = l.acc
                 WHERE a.forbid_negative AND v_existing_id[l.e] IS NULL) r
         WHERE (r.type IN ('asset', 'expense') AND r.running < 0)
            OR (r.type IN ('liability', 'equity', 'income') AND r.running > 0)
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger:insufficient_balance' USING DETAIL = json_build_object(
                'code', v_bad.code, 'currency', v_bad.currency, 'type', v_bad.type,
                'net', v_bad.net, 'attempted', v_bad.running)::text;
        END IF;
    END IF;

    -- 7. Write entries, postings, balances and day totals in one statement.
    IF v_new_count > 0 THEN
        WITH ins AS (
            INSERT INTO ledger_entry (id, effective_date, posted_at, description, metadata, idempotency_key,
                                      request_hash, content_hash, leg_count, reverses_id)
            SELECT v_ids[i], p_effective_dates[i], p_posted_at, p_descriptions[i], p_metadata[i], p_keys[i],
                   p_request_hashes[i], p_content_hashes[i], p_leg_counts[i], p_reverses[i]
              FROM generate_series(1, n) AS i
             WHERE v_ids[i] IS NOT NULL AND v_existing_id[i] IS NULL
            RETURNING id
        ), legs AS (
            SELECT v_ids[l.e] AS eid, l.li, p_leg_counts[l.e] AS lc, l.acc, l.cur, l.amt,
                   p_effective_dates[l.e] AS eff
              FROM unnest(p_leg_entry, p_leg_index, v_acc, p_leg_currency, p_leg_amount) AS l(e, li, acc, cur, amt)
             WHERE v_existing_id[l.e] IS NULL
        ), post AS (
            INSERT INTO ledger_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)
            SELECT legs.eid, legs.li, legs.lc, legs.acc, legs.cur, legs.amt,
                   a.net + sum(legs.amt) OVER (PARTITION BY legs.acc ORDER BY legs.eid, legs.li)
              FROM legs JOIN ledger_account a ON a.id = legs.acc
        ), acc AS (
            UPDATE ledger_account a
               SET net = a.net + d.s, posting_count = a.posting_count + d.c
              FROM (SELECT legs.acc, sum(legs.amt) AS s, count(*) AS c FROM legs GROUP BY legs.acc) d
             WHERE a.id = d.acc
        ), days AS (
            INSERT INTO ledger_account_day AS ad (account_id, day, net, postings)
            SELECT legs.acc, legs.eff, sum(legs.amt), count(*) FROM legs GROUP BY legs.acc, legs.eff
            ON CONFLICT (account_id, day) DO UPDATE
               SET net = ad.net + EXCLUDED.net, postings = ad.postings + EXCLUDED.postings
        )
        -- Data-modifying CTEs always run to completion; this just consumes one.
        SELECT count(*) INTO v_new_count FROM ins;
    END IF;

    RETURN QUERY
        SELECT i, coalesce(v_existing_id[i], v_ids[i]), v_existing_id[i] IS NULL,
               coalesce(v_existing_date[i], p_effective_dates[i])
          FROM generate_series(1, n) AS i;
END $$;
