-- ClearFrame ledger: the posting functions and the functions behind the balance
-- and closed-period triggers (PostgreSQL). Installed with CREATE OR REPLACE
-- before the triggers of postgresql.sql, and again by the migration that last
-- changed them: editing this file needs a new migration that calls
-- ledger.sql.install_posting.
--
-- Day totals: a day's movement on an account is its ledger_account_day row plus,
-- for the account's newest day, the bucket on the account row (day, day_net,
-- day_postings). The single-entry path adds to the bucket when the entry is
-- dated on that day, moves the bucket to ledger_account_day when a later day
-- starts, and writes back-dated movement straight to ledger_account_day. The
-- bulk path writes every movement to ledger_account_day and leaves buckets as
-- they are; both keep the sum right.

-- Posting: one round trip for one entry or twenty thousand ------------------
-- Arrays are parallel: p_* per entry, p_leg_* per leg (p_leg_entry is the
-- 1-based entry ordinal). p_metadata is NULL when every entry's is empty. Errors the caller can act on are raised with a
-- 'ledger:<code>' message and a JSON detail that Python turns into typed errors.
--
-- Per-row work reads variable-length arrays through unnest() and indexes only
-- fixed-width arrays without NULLs: subscripting any other array walks it from
-- the start, which would make a large batch quadratic. Accounts come once each
-- (p_acc_code, p_acc_currency) and legs name them by 1-based ordinal
-- (p_leg_acc): matching every leg's code and currency cost a tenth of a batch.
-- Keys are looked up before the insert (a replay's legs must stay out of the
-- running balances written into two-leg rows); a key that a concurrent poster
-- commits in between fails the insert on the unique index, and the caller's
-- retry takes the replay path.
-- A batch refused for a closed period or a reversal names a key conflict first,
-- as the single-entry function and the ORM engine do: only on that path, so a
-- batch that posts pays nothing for it.
CREATE OR REPLACE FUNCTION ledger_refuse_key_conflict(p_keys text[], p_request_hashes text[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v_bad record;
BEGIN
    SELECT k.key, e.id INTO v_bad
      FROM unnest(p_keys, p_request_hashes) WITH ORDINALITY AS k(key, rh, i)
      JOIN ledger_entry e ON e.idempotency_key = k.key
     WHERE k.key IS NOT NULL AND e.request_hash <> k.rh
     ORDER BY k.i
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger:idempotency_conflict' USING DETAIL = json_build_object(
            'key', v_bad.key, 'entry_id', v_bad.id)::text;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION ledger_post_entries(
    p_keys text[], p_request_hashes text[], p_content_hashes text[], p_effective_dates date[],
    p_descriptions text[], p_metadata jsonb[], p_reverses bigint[], p_leg_counts smallint[],
    p_posted_at timestamptz, p_acc_code text[], p_acc_currency text[],
    p_leg_entry int[], p_leg_index smallint[], p_leg_acc int[], p_leg_amount bigint[]
) RETURNS TABLE (entry_ids bigint[], replayed int[], replayed_dates date[])
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n int := cardinality(p_keys);
    v_ids_by_ordinal bigint[];  -- account ids in p_acc_code's order
    v_net_by_ordinal bigint[];  -- their nets, as locked
    v_distinct bigint;
    v_acc bigint[];             -- each leg's account id
    v_any_forbid boolean;
    v_closed date;
    v_bad record;
    v_existing bigint[] := array_fill(0::bigint, ARRAY[n]);  -- stored id of a replayed entry, else 0
    v_dates date[] := p_effective_dates;                    -- replays report their stored date
    v_replays int := 0;
    v_ids bigint[];
    v_bal bigint[];             -- each leg's running balance
    v_run bigint[];             -- per account ordinal: its running balance
    v_e int;
    v_ax int;
    v_prev_e int := 0;
    v_prev_li smallint := -1;
    v_li smallint;
    v_cur_no int[];             -- per account ordinal: its currency's number within the call
    v_count int[];              -- per account ordinal: legs posted to it
    v_pair_ax int[];            -- per entry whose two legs go on its own row: leg 0's account ordinal; else 0
    v_pairs int := 0;
    v_first int[];              -- per entry: the ordinal of its first leg
    v_one_day boolean;
    v_tx bigint;
    v_day date;
BEGIN
    -- 0. Keys are claimed in key order within a call (step 4), so keyed calls
    --    cannot wait on each other's keys in a cycle. Reversals are claimed in
    --    a second unique index, whose order no sort can match with the keys':
    --    a call that reverses entries in a batch holds this lock exclusively,
    --    as a batch sent in several calls does (it holds one call's claims
    --    while it makes the next; ledger.services.posting). Other batches with
    --    keys, and one entry with both a key and a reversal (as
    --    ledger_post_entry), share it. Taken before the account locks, in the
    --    same order as that batch takes them.
    IF n > 1 AND cardinality(array_remove(p_reverses, NULL)) > 0 THEN
        PERFORM pg_advisory_xact_lock(7145360201);
    ELSIF (n > 1 AND cardinality(array_remove(p_keys, NULL)) > 0)
       OR EXISTS (SELECT FROM unnest(p_keys, p_reverses) AS x(k, r) WHERE k IS NOT NULL AND r IS NOT NULL) THEN
        PERFORM pg_advisory_xact_lock_shared(7145360201);
    END IF;

    -- 1. Resolve account codes and lock the accounts in id order, in one
    --    statement: one global lock order, so concurrent posters queue instead
    --    of deadlocking.
    WITH wanted AS MATERIALIZED (
        SELECT DISTINCT code, cur FROM unnest(p_acc_code, p_acc_currency) AS w(code, cur)
    ), locked AS MATERIALIZED (
        SELECT a.id, a.code, a.currency, a.forbid_negative, a.net
          FROM wanted JOIN ledger_account a ON a.code = wanted.code AND a.currency = wanted.cur
         ORDER BY a.id
           FOR UPDATE OF a
    )
    SELECT array_agg(locked.id ORDER BY w.i), array_agg(locked.net ORDER BY w.i), bool_or(locked.forbid_negative),
           count(DISTINCT locked.id)
      INTO v_ids_by_ordinal, v_net_by_ordinal, v_any_forbid, v_distinct
      FROM unnest(p_acc_code, p_acc_currency) WITH ORDINALITY AS w(code, cur, i)
      LEFT JOIN locked ON locked.code = w.code AND locked.currency = w.cur;
    IF array_position(v_ids_by_ordinal, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ledger:unknown_account' USING DETAIL = json_build_object(
            'code', p_acc_code[array_position(v_ids_by_ordinal, NULL)],
            'currency', p_acc_currency[array_position(v_ids_by_ordinal, NULL)])::text;
    END IF;
    SELECT array_agg(v_ids_by_ordinal[l.ax] ORDER BY l.i) INTO v_acc
      FROM unnest(p_leg_acc) WITH ORDINALITY AS l(ax, i);
    -- A malformed call (a bug in the caller, not a refusal): no 'ledger:' code for Python to map.
    IF cardinality(p_leg_acc) IS DISTINCT FROM cardinality(p_leg_entry)
       OR cardinality(p_leg_amount) IS DISTINCT FROM cardinality(p_leg_entry)
       OR cardinality(p_leg_index) IS DISTINCT FROM cardinality(p_leg_entry) THEN
        RAISE EXCEPTION 'ledger_post_entries: the per-leg arrays differ in length';
    END IF;
    IF array_position(v_acc, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ledger_post_entries: leg % names no account (ordinal %)', array_position(v_acc, NULL),
            p_leg_acc[array_position(v_acc, NULL)];
    END IF;
    IF v_distinct <> cardinality(v_ids_by_ordinal) THEN  -- step 6 sums per ordinal
        RAISE EXCEPTION 'ledger_post_entries: an account is listed twice';
    END IF;

    -- 2. Closed periods and reversals. Replays are allowed into closed periods,
    --    so a date inside one is refused only if its key was not posted before.
    SELECT max(through_date) INTO v_closed FROM ledger_period_close;
    IF v_closed IS NOT NULL THEN
        SELECT d.d INTO v_bad
          FROM unnest(p_effective_dates, p_keys) WITH ORDINALITY AS d(d, key, i)
         WHERE d.d <= v_closed
           AND NOT EXISTS (SELECT 1 FROM ledger_entry e WHERE e.idempotency_key = d.key)
         LIMIT 1;
        IF FOUND THEN
            PERFORM ledger_refuse_key_conflict(p_keys, p_request_hashes);
            RAISE EXCEPTION 'ledger:period_closed' USING DETAIL = json_build_object(
                'effective_date', v_bad.d, 'closed_through', v_closed)::text;
        END IF;
    END IF;
    IF cardinality(array_remove(p_reverses, NULL)) > 0 THEN
        SELECT r.rev, e.id AS reversal INTO v_bad
          FROM unnest(p_reverses, p_keys) WITH ORDINALITY AS r(rev, key, i)
          JOIN ledger_entry e ON e.reverses_id = r.rev
         WHERE r.rev IS NOT NULL AND (r.key IS NULL OR e.idempotency_key IS DISTINCT FROM r.key)
         ORDER BY r.i
         LIMIT 1;
        IF FOUND THEN
            PERFORM ledger_refuse_key_conflict(p_keys, p_request_hashes);
            RAISE EXCEPTION 'ledger:already_reversed' USING DETAIL = json_build_object(
                'entry_id', v_bad.rev, 'reversal_id', v_bad.reversal)::text;
        END IF;
    END IF;

    -- 3. Ids are taken only now, with the accounts locked, so that on every
    --    account the order of entry ids is the order of its running balance.
    SELECT array_agg(nextval('ledger_entry_id_seq') ORDER BY i) INTO v_ids FROM generate_series(1, n) AS i;

    -- 4. Replays return the stored entry; a different payload is refused. Found
    --    before anything is written, because a two-leg entry's running
    --    balances go into its own row. A key committed meanwhile by a
    --    concurrent poster makes the insert below fail on the unique index,
    --    and the caller runs the call again, which then finds it here.
    IF cardinality(array_remove(p_keys, NULL)) > 0 THEN
        FOR v_bad IN
            -- One scan of the key index for the whole array (materialized, so that the entries are
            -- never hashed: as a plain join, PostgreSQL hashed every keyed entry ever posted); then
            -- the few keys found are matched to their ordinals.
            WITH found AS MATERIALIZED (
                SELECT s.id, s.idempotency_key, s.effective_date, s.request_hash
                  FROM ledger_entry s WHERE s.idempotency_key = ANY (p_keys)
            )
            SELECT k.i, e.id, k.key, e.effective_date, e.request_hash = k.rh AS same
              FROM found e
              JOIN unnest(p_keys, p_request_hashes) WITH ORDINALITY AS k(key, rh, i) ON k.key = e.idempotency_key
             ORDER BY k.i
        LOOP
            IF NOT v_bad.same THEN
                RAISE EXCEPTION 'ledger:idempotency_conflict' USING DETAIL = json_build_object(
                    'key', v_bad.key, 'entry_id', v_bad.id)::text;
            END IF;
            v_existing[v_bad.i] := v_bad.id;
            v_dates[v_bad.i] := v_bad.effective_date;
            v_replays := v_replays + 1;
        END LOOP;
    END IF;

    IF v_replays < n THEN
        -- 5. No-overdraft accounts: check every running balance, not only the last.
        IF v_any_forbid THEN
            -- Named as one post names it: the balance just before the entry (after the batch's earlier
            -- entries), and the first running balance that breaks the rule.
            SELECT r.code, r.currency, r.type, r.before AS net, r.running INTO v_bad
              FROM (SELECT a.code, a.currency, a.type, v_ids[l.e] AS eid, l.li,
                           a.net + coalesce(sum(l.amt) OVER (PARTITION BY l.acc ORDER BY v_ids[l.e]
                                                             RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
                               AS before,
                           a.net + sum(l.amt) OVER (PARTITION BY l.acc ORDER BY v_ids[l.e], l.li) AS running
                      FROM unnest(p_leg_entry, p_leg_index, v_acc, p_leg_amount) AS l(e, li, acc, amt)
                      JOIN ledger_account a ON a.id = l.acc
                     WHERE a.forbid_negative AND v_existing[l.e] = 0) r
             WHERE (r.type IN ('asset', 'expense') AND r.running < 0)
                OR (r.type IN ('liability', 'equity', 'income') AND r.running > 0)
             ORDER BY r.eid, r.li  -- the first breach in entry and leg order, as the ORM engine names it
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'ledger:insufficient_balance' USING DETAIL = json_build_object(
                    'code', v_bad.code, 'currency', v_bad.currency, 'type', v_bad.type,
                    'net', v_bad.net, 'attempted', v_bad.running)::text;
            END IF;
        END IF;

        -- 6. One pass over the legs, in entry and leg order (which it checks):
        --    each leg's running balance from its account's net as locked in
        --    step 1 (entry ids ascend with the ordinal; 0 for a replay's
        --    legs) and each account's count of legs, which step 8 writes; and
        --    which entries keep their two legs on their own row (ADR 0012):
        --    two legs, in one currency, moving opposite amounts.
        --    Anything else (including a malformed call) goes to posting rows,
        --    where the balance check at COMMIT judges it. A loop over the
        --    arrays (O(1) subscripts: fixed width, no NULLs) took a quarter of
        --    the time of the window and aggregate queries it replaced.
        SELECT array_agg(c.cur_no ORDER BY c.ax) INTO v_cur_no
          FROM (SELECT u.ax, dense_rank() OVER (ORDER BY u.cur) AS cur_no
                  FROM unnest(p_acc_currency) WITH ORDINALITY AS u(cur, ax)) c;
        v_run := v_net_by_ordinal;
        v_bal := array_fill(0::bigint, ARRAY[cardinality(p_leg_amount)]);
        v_count := array_fill(0, ARRAY[cardinality(v_run)]);
        v_pair_ax := array_fill(0, ARRAY[n]);
        v_first := array_fill(0, ARRAY[n]);
        FOR o IN 1 .. cardinality(p_leg_amount) LOOP
            v_e := p_leg_entry[o];
            v_li := p_leg_index[o];
            IF (v_e > v_prev_e OR (v_e = v_prev_e AND v_li > v_prev_li)) IS NOT TRUE THEN
                RAISE EXCEPTION 'ledger_post_entries: leg % is out of entry and leg order', o;
            END IF;
            v_prev_e := v_e;
            v_prev_li := v_li;
            v_ax := p_leg_acc[o];
            IF v_existing[v_e] = 0 THEN
                v_run[v_ax] := v_run[v_ax] + p_leg_amount[o];
                v_bal[o] := v_run[v_ax];
                v_count[v_ax] := v_count[v_ax] + 1;
            END IF;
            -- Exactly legs 0 and 1 of the entry: a leg before or after them sends it to posting rows,
            -- whose constraints refuse it.
            IF v_li = 1 AND p_leg_counts[v_e] = 2 AND p_leg_entry[o - 1] = v_e AND p_leg_index[o - 1] = 0
               AND p_leg_entry[o - 2] IS DISTINCT FROM v_e AND p_leg_entry[o + 1] IS DISTINCT FROM v_e
               AND p_leg_amount[o - 1] = -p_leg_amount[o] AND v_cur_no[p_leg_acc[o - 1]] = v_cur_no[v_ax] THEN
                v_pair_ax[v_e] := p_leg_acc[o - 1];
                v_first[v_e] := o - 1;
                v_pairs := v_pairs + 1;
            END IF;
        END LOOP;

        v_tx := pg_current_xact_id()::text::bigint;  -- the column's default, computed once
        -- 7. Entries, in key order, then in order of the entry they reverse
        --    (their ids are fixed above): two batches that share keys or
        --    reversals then wait on them in one order, as posters do on
        --    accounts, instead of deadlocking when they list them in opposite
        --    orders.
        INSERT INTO ledger_entry (id, effective_date, posted_at, description, metadata, idempotency_key,
                                  request_hash, content_hash, leg_count, reverses_id, checked_in_batch, tx,
                                  leg0_account_id, leg1_account_id, leg_currency, leg0_amount,
                                  leg0_balance_after, leg1_balance_after)
        SELECT v_ids[e.i], e.eff, p_posted_at, e.descr, coalesce(e.meta, '{}'), e.key, e.rh, e.ch, e.lc, e.rev, true,
               v_tx,
               CASE WHEN e.pair_ax > 0 THEN v_acc[e.first] END,
               CASE WHEN e.pair_ax > 0 THEN v_acc[e.first + 1] END,
               cur.cur,
               CASE WHEN e.pair_ax > 0 THEN p_leg_amount[e.first] END,
               CASE WHEN e.pair_ax > 0 THEN v_bal[e.first] END,
               CASE WHEN e.pair_ax > 0 THEN v_bal[e.first + 1] END
          FROM unnest(p_keys, p_request_hashes, p_content_hashes, p_effective_dates, p_descriptions,
                      p_metadata, p_reverses, p_leg_counts, v_existing, v_pair_ax, v_first)
               WITH ORDINALITY AS e(key, rh, ch, eff, descr, meta, rev, lc, existing, pair_ax, first, i)
          LEFT JOIN unnest(p_acc_currency) WITH ORDINALITY AS cur(cur, ax) ON cur.ax = e.pair_ax
         WHERE e.existing = 0
         ORDER BY e.key COLLATE "C", e.rev;

        -- Postings, for the entries whose legs are rows.
        IF v_pairs < n THEN
            INSERT INTO ledger_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)
            SELECT v_ids[l.e], l.li, p_leg_counts[l.e], l.acc, a.currency, l.amt, v_bal[l.o]
              FROM unnest(p_leg_entry, p_leg_index, v_acc, p_leg_amount) WITH ORDINALITY AS l(e, li, acc, amt, o)
              JOIN ledger_account a ON a.id = l.acc
             WHERE v_existing[l.e] = 0 AND v_pair_ax[l.e] = 0;
        END IF;

        -- 8. Stored balances: each account's movement is where the loop left its running balance.
        UPDATE ledger_account a
           SET net = d.run, posting_count = a.posting_count + d.c
          FROM unnest(v_ids_by_ordinal, v_run, v_count) AS d(id, run, c)
         WHERE a.id = d.id AND d.c > 0;

        -- Update the day rows that exist, insert the rest. The account locks
        -- serialise every writer of these rows, so no upsert is needed (and an
        -- ON CONFLICT upsert on a hot row costs several times more). When the
        -- call is dated on one day (the usual batch), the day's movement is the
        -- account's, without grouping the legs again.
        SELECT min(d) = max(d), min(d) INTO v_one_day, v_day FROM unnest(p_effective_dates) AS d;
        WITH delta AS (
            SELECT v_ids_by_ordinal[a.ax] AS acc, v_day AS day, v_run[a.ax] - v_net_by_ordinal[a.ax] AS s, a.c
              FROM unnest(v_count) WITH ORDINALITY AS a(c, ax)
             WHERE v_one_day AND a.c > 0
            UNION ALL
            SELECT l.acc, p_effective_dates[l.e] AS day, sum(l.amt) AS s, count(*) AS c
              FROM unnest(p_leg_entry, v_acc, p_leg_amount) AS l(e, acc, amt)
             WHERE NOT v_one_day AND v_existing[l.e] = 0
             GROUP BY l.acc, p_effective_dates[l.e]
        ), updated AS (
            UPDATE ledger_account_day ad SET net = ad.net + delta.s, postings = ad.postings + delta.c
              FROM delta WHERE ad.account_id = delta.acc AND ad.day = delta.day
            RETURNING ad.account_id, ad.day
        )
        -- NOT IN over the updated keys is a hashed subplan; NOT EXISTS was a nested loop over both CTEs, which
        -- took 120 ms for a chunk spanning two years of days.
        INSERT INTO ledger_account_day (account_id, day, net, postings)
        SELECT delta.acc, delta.day, delta.s, delta.c FROM delta
         WHERE (delta.acc, delta.day) NOT IN (SELECT u.account_id, u.day FROM updated u);
    END IF;

    -- Each entry's id in call order, and the replays (1-based ordinals) with their stored dates: three arrays
    -- in one row cost the caller less than a row per entry.
    IF v_replays = 0 THEN
        RETURN QUERY SELECT v_ids, '{}'::int[], '{}'::date[];
    ELSE
        RETURN QUERY
            SELECT array_agg(CASE WHEN v_existing[i] = 0 THEN v_ids[i] ELSE v_existing[i] END ORDER BY i),
                   coalesce(array_agg(i ORDER BY i) FILTER (WHERE v_existing[i] <> 0), '{}'),
                   coalesce(array_agg(v_dates[i] ORDER BY i) FILTER (WHERE v_existing[i] <> 0), '{}')
              FROM generate_series(1, n) AS i;
    END IF;
END $$;

-- One entry: the same rules as ledger_post_entries with scalar parameters,
-- which are cheaper to send and to run. It is the hot path of entry_post.
CREATE OR REPLACE FUNCTION ledger_post_entry(
    p_key text, p_request_hash text, p_content_hash text, p_effective_date date, p_description text,
    p_metadata jsonb, p_reverses bigint, p_posted_at timestamptz,
    p_leg_code text[], p_leg_currency text[], p_leg_amount bigint[], p_probe boolean DEFAULT true
) RETURNS TABLE (entry_id bigint, created boolean, effective_date date)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    n smallint := cardinality(p_leg_code);
    v_acc bigint[];
    v_net bigint[];
    v_pair bigint[];  -- a two-leg row: the two accounts, leg 0's amount, the two running balances
    v_any_forbid boolean;
    v_closed date;
    v_bad record;
    v_id bigint;
    v_day_work boolean;  -- an account's bucket holds another day than this entry's
    -- Two legs in one currency that move opposite amounts: kept on the entry's own row (ADR 0012).
    v_row_form boolean := n = 2 AND p_leg_currency[1] = p_leg_currency[2] AND p_leg_amount[1] = -p_leg_amount[2];
    -- ... on two accounts (most posts): the accounts are locked and their balances moved by statements written for
    -- two rows. The general ones (CTEs, a grouping, sorted aggregates) cost a post about 90 us of its 420 even for
    -- two rows.
    v_two boolean := v_row_form AND NOT (p_leg_code[1] = p_leg_code[2]);
    v_same_day boolean := true;  -- every account's bucket holds this entry's day
    v_row record;
BEGIN
    -- A key and a reversal: claimed in two indexes, so it queues behind a batch that reverses (ledger_post_entries,
    -- step 0) rather than holding one claim while that batch holds the other.
    IF p_key IS NOT NULL AND p_reverses IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock_shared(7145360201);
    END IF;
    -- The latest close is read with the locks, to spare a post one query (each costs a post in a transaction of
    -- its own 15-25 us): a close that commits while this waits for the locks is refused by the entries' trigger.
    IF v_two THEN
        v_acc := ARRAY[NULL, NULL]::bigint[];
        v_net := ARRAY[NULL, NULL]::bigint[];
        v_any_forbid := false;
        v_day_work := false;
        FOR v_row IN
            SELECT a.id, a.code, a.forbid_negative, a.day, a.net, (SELECT max(through_date) FROM ledger_period_close) AS closed
              FROM ledger_account a
             WHERE a.currency = p_leg_currency[1] AND (a.code = p_leg_code[1] OR a.code = p_leg_code[2])
             ORDER BY a.id
               FOR UPDATE OF a
        LOOP
            IF v_row.code = p_leg_code[1] THEN
                v_acc[1] := v_row.id;
                v_net[1] := v_row.net;
            ELSE
                v_acc[2] := v_row.id;
                v_net[2] := v_row.net;
            END IF;
            v_any_forbid := v_any_forbid OR v_row.forbid_negative;
            v_day_work := v_day_work OR coalesce(v_row.day <> p_effective_date, false);
            v_same_day := v_same_day AND coalesce(v_row.day = p_effective_date, false);
            v_closed := v_row.closed;
        END LOOP;
    ELSE
        WITH wanted AS MATERIALIZED (
            SELECT DISTINCT code, cur FROM unnest(p_leg_code, p_leg_currency) AS w(code, cur)
        ), locked AS MATERIALIZED (
            SELECT a.id, a.code, a.currency, a.forbid_negative, a.day, a.net
              FROM wanted JOIN ledger_account a ON a.code = wanted.code AND a.currency = wanted.cur
             ORDER BY a.id
               FOR UPDATE OF a
        )
        SELECT array_agg(locked.id ORDER BY l.i), array_agg(locked.net ORDER BY l.i), bool_or(locked.forbid_negative),
               bool_or(locked.day <> p_effective_date), (SELECT max(through_date) FROM ledger_period_close)
          INTO v_acc, v_net, v_any_forbid, v_day_work, v_closed
          FROM unnest(p_leg_code, p_leg_currency) WITH ORDINALITY AS l(code, cur, i)
          LEFT JOIN locked ON locked.code = l.code AND locked.currency = l.cur;
    END IF;
    IF array_position(v_acc, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'ledger:unknown_account' USING DETAIL = json_build_object(
            'code', p_leg_code[array_position(v_acc, NULL)],
            'currency', p_leg_currency[array_position(v_acc, NULL)])::text;
    END IF;

    -- The key is looked up first only when the caller asks (p_probe): a fresh key, most posts, is left to the
    -- unique index, and a caller told that the key is taken (or that its post is refused, below) calls again
    -- with the lookup, which finds a replay or a conflict. The lookup cost a post 15-20 us.
    IF p_key IS NOT NULL AND p_probe THEN
        SELECT e.id, e.request_hash, e.effective_date INTO v_bad
          FROM ledger_entry e WHERE e.idempotency_key = p_key;
        IF FOUND THEN
            IF v_bad.request_hash <> p_request_hash THEN
                RAISE EXCEPTION 'ledger:idempotency_conflict' USING DETAIL = json_build_object(
                    'key', p_key, 'entry_id', v_bad.id)::text;
            END IF;
            entry_id := v_bad.id;  -- the row is returned without running a query
            created := false;
            effective_date := v_bad.effective_date;
            RETURN NEXT;
            RETURN;
        END IF;
    END IF;

    IF p_effective_date <= v_closed THEN
        IF p_key IS NOT NULL AND NOT p_probe THEN
            RAISE EXCEPTION 'ledger:probe_key';  -- a replay of an entry posted before is not refused: look first
        END IF;
        RAISE EXCEPTION 'ledger:period_closed' USING DETAIL = json_build_object(
            'effective_date', p_effective_date, 'closed_through', v_closed)::text;
    END IF;

    IF p_reverses IS NOT NULL THEN
        SELECT e.id INTO v_bad FROM ledger_entry e WHERE e.reverses_id = p_reverses;
        IF FOUND THEN
            IF p_key IS NOT NULL AND NOT p_probe THEN
                RAISE EXCEPTION 'ledger:probe_key';  -- a replay of an entry posted before is not refused: look first
            END IF;
            RAISE EXCEPTION 'ledger:already_reversed' USING DETAIL = json_build_object(
                'entry_id', p_reverses, 'reversal_id', v_bad.id)::text;
        END IF;
    END IF;

    IF v_any_forbid THEN
        SELECT r.code, r.currency, r.type, r.net, r.running INTO v_bad
          FROM (SELECT a.code, a.currency, a.type, a.net, l.i,
                       a.net + sum(l.amt) OVER (PARTITION BY l.acc ORDER BY l.i) AS running
                  FROM unnest(v_acc, p_leg_amount) WITH ORDINALITY AS l(acc, amt, i)
                  JOIN ledger_account a ON a.id = l.acc
                 WHERE a.forbid_negative) r
         WHERE (r.type IN ('asset', 'expense') AND r.running < 0)
            OR (r.type IN ('liability', 'equity', 'income') AND r.running > 0)
         ORDER BY r.i
         LIMIT 1;
        IF FOUND THEN
            IF p_key IS NOT NULL AND NOT p_probe THEN
                RAISE EXCEPTION 'ledger:probe_key';  -- a replay of an entry posted before is not refused: look first
            END IF;
            RAISE EXCEPTION 'ledger:insufficient_balance' USING DETAIL = json_build_object(
                'code', v_bad.code, 'currency', v_bad.currency, 'type', v_bad.type,
                'net', v_bad.net, 'attempted', v_bad.running)::text;
        END IF;
    END IF;

    -- The id comes from the sequence now, after the account locks. Two legs in one currency that move
    -- opposite amounts go on the entry's own row (ADR 0012), with their running balances from the nets as
    -- locked above; other entries get posting rows, and the balance check at COMMIT.
    IF v_row_form THEN
        v_pair := ARRAY[v_acc[1], v_acc[2], p_leg_amount[1], v_net[1] + p_leg_amount[1],
                        CASE WHEN v_acc[1] = v_acc[2] THEN v_net[1] ELSE v_net[2] + p_leg_amount[2] END];
    END IF;
    INSERT INTO ledger_entry (effective_date, posted_at, description, metadata, idempotency_key,
                              request_hash, content_hash, leg_count, reverses_id,
                              leg0_account_id, leg1_account_id, leg_currency, leg0_amount,
                              leg0_balance_after, leg1_balance_after)
    VALUES (p_effective_date, p_posted_at, p_description, p_metadata, p_key,
            p_request_hash, p_content_hash, n, p_reverses,
            v_pair[1], v_pair[2], CASE WHEN v_pair IS NOT NULL THEN p_leg_currency[1] END, v_pair[3],
            v_pair[4], v_pair[5])
    RETURNING id INTO v_id;

    IF v_pair IS NULL THEN
        INSERT INTO ledger_posting (entry_id, leg_index, leg_count, account_id, currency, amount, balance_after)
        SELECT v_id, (l.i - 1)::smallint, n, l.acc, l.cur, l.amt,
               a.net + sum(l.amt) OVER (PARTITION BY l.acc ORDER BY l.i)
          FROM unnest(v_acc, p_leg_currency, p_leg_amount) WITH ORDINALITY AS l(acc, cur, amt, i)
          JOIN ledger_account a ON a.id = l.acc;
    END IF;

    IF v_day_work THEN
        -- Another day: flush older buckets, and write back-dated movement straight to the day rows.
        WITH delta AS (
            SELECT l.acc, sum(l.amt) AS s, count(*) AS c FROM unnest(v_acc, p_leg_amount) AS l(acc, amt) GROUP BY l.acc
        ), moves AS (
            SELECT a.id AS acc, a.day, a.day_net AS s, a.day_postings AS c
              FROM ledger_account a JOIN delta ON delta.acc = a.id WHERE a.day < p_effective_date
            UNION ALL
            SELECT a.id, p_effective_date, delta.s, delta.c
              FROM ledger_account a JOIN delta ON delta.acc = a.id WHERE a.day > p_effective_date
        ), updated AS (
            UPDATE ledger_account_day ad SET net = ad.net + moves.s, postings = ad.postings + moves.c
              FROM moves WHERE ad.account_id = moves.acc AND ad.day = moves.day
            RETURNING ad.account_id, ad.day
        )
        INSERT INTO ledger_account_day (account_id, day, net, postings)
        SELECT moves.acc, moves.day, moves.s, moves.c FROM moves
         WHERE NOT EXISTS (SELECT 1 FROM updated u WHERE u.account_id = moves.acc AND u.day = moves.day);
    END IF;
    IF v_two AND v_same_day THEN
        UPDATE ledger_account a
           SET net = a.net + CASE WHEN a.id = v_acc[1] THEN p_leg_amount[1] ELSE p_leg_amount[2] END,
               posting_count = a.posting_count + 1,
               day_net = a.day_net + CASE WHEN a.id = v_acc[1] THEN p_leg_amount[1] ELSE p_leg_amount[2] END,
               day_postings = a.day_postings + 1
         WHERE a.id IN (v_acc[1], v_acc[2]);
        entry_id := v_id;
        created := true;
        effective_date := p_effective_date;
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE ledger_account a
       SET net = a.net + d.s, posting_count = a.posting_count + d.c,
           day = CASE WHEN a.day > p_effective_date THEN a.day ELSE p_effective_date END,
           day_net = CASE WHEN a.day > p_effective_date THEN a.day_net
                          WHEN a.day = p_effective_date THEN a.day_net + d.s ELSE d.s END,
           day_postings = CASE WHEN a.day > p_effective_date THEN a.day_postings
                               WHEN a.day = p_effective_date THEN a.day_postings + d.c ELSE d.c END
      FROM (SELECT l.acc, sum(l.amt) AS s, count(*) AS c
              FROM unnest(v_acc, p_leg_amount) AS l(acc, amt) GROUP BY l.acc) d
     WHERE a.id = d.acc;

    entry_id := v_id;
    created := true;
    effective_date := p_effective_date;
    RETURN NEXT;
END $$;


-- Balance at COMMIT --------------------------------------------------------
-- A deferred constraint trigger fires once per entry, and at COMMIT those calls
-- were a fifth of a bulk post. So an entry says how it is checked, in a column
-- that the triggers read from the row itself, never from session state:
-- checked_in_batch = false (a single post, any raw INSERT by default): the row
-- trigger ledger_entry_balanced checks it alone. checked_in_batch = true (the
-- bulk function's rows): the row trigger skips it (its WHEN clause), and the
-- statement trigger below writes the statement's id range of such rows into
-- ledger_entry_batch, whose own deferred constraint trigger checks every such
-- entry in the range with one query. Every row is covered one way or the
-- other, whatever the session sets, defers or makes immediate: a check made
-- before an entry's postings exist refuses it, and an entry once checked
-- cannot change (postings are immutable and unique per (entry, leg) below
-- leg_count). The range row's trigger reads the row as it was inserted, so
-- deleting or editing it before COMMIT changes nothing.
CREATE OR REPLACE FUNCTION ledger_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_legs bigint;
    v_sum numeric;
    v_one_currency boolean;
BEGIN
    -- Fast path: most entries use one currency, where a plain sum decides.
    SELECT count(*), sum(amount), min(currency) = max(currency)
      INTO v_legs, v_sum, v_one_currency
      FROM @ledger_schema@.ledger_posting WHERE entry_id = NEW.id;
    IF v_legs <> NEW.leg_count OR NOT v_one_currency OR v_sum <> 0 THEN
        PERFORM ledger_entry_assert_balanced(NEW.id, NEW.leg_count);
    END IF;
    RETURN NULL;
END $$;

-- One query for a batch's range, planned with the actual bounds (a generic
-- plan guesses a few rows and loops). Entries failing the one-currency fast
-- path get the full check, the first in id order named.
CREATE OR REPLACE FUNCTION ledger_entry_batch_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_bad record;
BEGIN
    -- One grouping over the range's entries and postings together, without a join: with a join, PostgreSQL
    -- chose a nested loop whenever its statistics put the range's row-form entries at one, which took
    -- seconds for a range of thousands. A posting group without its entry row belongs to an entry checked
    -- some other way, and is left to that check.
    FOR v_bad IN EXECUTE format($q$
        SELECT x.id, min(x.lc)::smallint AS leg_count
          FROM (SELECT e.id, e.leg_count AS lc, 0 AS legs, 0::bigint AS amount, NULL::text AS currency
                  FROM @ledger_schema@.ledger_entry e
                 WHERE e.id BETWEEN %1$s AND %2$s AND e.checked_in_batch AND e.leg0_account_id IS NULL
                UNION ALL
                SELECT p.entry_id, NULL, 1, p.amount, p.currency
                  FROM @ledger_schema@.ledger_posting p WHERE p.entry_id BETWEEN %1$s AND %2$s) x
         GROUP BY x.id
        HAVING count(x.lc) > 0
           AND (sum(x.legs) <> min(x.lc) OR sum(x.amount) <> 0 OR min(x.currency) <> max(x.currency))
         ORDER BY x.id$q$, NEW.lo, NEW.hi)
    LOOP
        PERFORM ledger_entry_assert_balanced(v_bad.id, v_bad.leg_count);
    END LOOP;
    DELETE FROM @ledger_schema@.ledger_entry_batch WHERE id = NEW.id;  -- done with; the table only holds open batches
    RETURN NULL;
END $$;

-- The full check of one entry, raising with the detail.
CREATE OR REPLACE FUNCTION ledger_entry_assert_balanced(p_entry bigint, p_leg_count smallint)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    v_legs bigint;
    v_off text;
BEGIN
    SELECT count(*) INTO v_legs FROM @ledger_schema@.ledger_posting WHERE entry_id = p_entry;
    IF v_legs <> p_leg_count THEN
        RAISE EXCEPTION 'ledger: entry % has % postings but declares %', p_entry, v_legs, p_leg_count
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT string_agg(currency || ' ' || s, ', ') INTO v_off
      FROM (SELECT currency, sum(amount) AS s FROM @ledger_schema@.ledger_posting WHERE entry_id = p_entry
             GROUP BY currency HAVING sum(amount) <> 0) t;
    IF v_off IS NOT NULL THEN
        RAISE EXCEPTION 'ledger: entry % does not balance (%)', p_entry, v_off
            USING ERRCODE = 'check_violation';
    END IF;
END $$;

-- Closed periods, one set-based check per INSERT statement; the statement's
-- entries checked in batch get their range row (above).
--
-- Under REPEATABLE READ or SERIALIZABLE the statement reads the transaction's
-- snapshot, which may predate a close that committed since (the close's table
-- lock only orders it against transactions already writing entries). Every
-- close updates the one row of ledger_period_state, so at those levels the
-- insert locks that row FOR SHARE: a row updated by a transaction that
-- committed after this snapshot cannot be locked, and the insert is refused as
-- a serialization failure, to be retried. A close that rolled back changed
-- nothing; nothing the session sets can skip the check, and the row cannot be
-- deleted.
CREATE OR REPLACE FUNCTION ledger_entry_check_period() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_sum record;
    v_bad record;
    v_kind int;
    v_state_found boolean;
BEGIN
    -- One pass over the statement's entries (a single post pays for each query the trigger runs): could any break
    -- a rule below, and the range of the entries whose legs are rows and checked in batch (a two-leg entry
    -- balances by construction). Only then does the second query look for the first problem, to name it; the two
    -- together cost a single post 20 us less than that query alone. The accounts stay two NOT EXISTS: PostgreSQL
    -- turns each into a hashed subplan for a bulk chunk; one count of both accounts per row, though 12 us cheaper
    -- for a single post, cost a 20,000-entry batch 80 ms in this trigger against 10.
    SELECT coalesce(min(n.effective_date) <= (SELECT max(through_date) FROM @ledger_schema@.ledger_period_close), false)
           OR count(*) FILTER (WHERE n.leg0_account_id IS NOT NULL
                                 AND (NOT EXISTS (SELECT 1 FROM @ledger_schema@.ledger_account a
                                                   WHERE a.id = n.leg0_account_id AND a.currency = n.leg_currency)
                                      OR NOT EXISTS (SELECT 1 FROM @ledger_schema@.ledger_account a
                                                      WHERE a.id = n.leg1_account_id AND a.currency = n.leg_currency))) > 0
           OR count(n.reverses_id) > 0 AS suspect,
           min(n.id) FILTER (WHERE n.checked_in_batch AND n.leg0_account_id IS NULL) AS lo,
           max(n.id) FILTER (WHERE n.checked_in_batch AND n.leg0_account_id IS NULL) AS hi
      INTO v_sum
      FROM new_entries n;
    IF v_sum.suspect THEN
        -- The first problem, in the order the checks are listed.
        WITH closed AS (SELECT max(through_date) AS through FROM @ledger_schema@.ledger_period_close),
        problems AS (
            -- 1. A date inside a closed period.
            (SELECT 1 AS kind, n.id, n.effective_date, NULL::bigint AS ref0, NULL::bigint AS ref1, NULL::text AS cur
               FROM new_entries n, closed WHERE n.effective_date <= closed.through LIMIT 1)
            UNION ALL
            -- 2. A two-leg entry on its own row names its accounts there: each exists, in the entry's currency.
            (SELECT 2, n.id, NULL, n.leg0_account_id, n.leg1_account_id, n.leg_currency
               FROM new_entries n
              WHERE n.leg0_account_id IS NOT NULL
                AND (NOT EXISTS (SELECT 1 FROM @ledger_schema@.ledger_account a
                                  WHERE a.id = n.leg0_account_id AND a.currency = n.leg_currency)
                     OR NOT EXISTS (SELECT 1 FROM @ledger_schema@.ledger_account a
                                     WHERE a.id = n.leg1_account_id AND a.currency = n.leg_currency))
              LIMIT 1)
            UNION ALL
            -- 3. An entry reverses one that exists. Checked here rather than by a foreign key, which queued a
            --    deferred check for every row inserted; entries are never deleted, so a check on insert suffices.
            (SELECT 3, n.id, NULL, n.reverses_id, NULL, NULL
               FROM new_entries n
              WHERE n.reverses_id IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM @ledger_schema@.ledger_entry e WHERE e.id = n.reverses_id)
              LIMIT 1)
        )
        SELECT p.kind, p.id, p.effective_date, p.ref0, p.ref1, p.cur, closed.through
          INTO v_bad
          FROM closed
          LEFT JOIN LATERAL (SELECT * FROM problems ORDER BY problems.kind LIMIT 1) p ON true;
        v_kind := v_bad.kind;
    END IF;
    IF v_kind = 1 THEN
        -- The same refusal as the posting functions': a post that raced a period close reads it too.
        RAISE EXCEPTION 'ledger:period_closed' USING ERRCODE = 'check_violation',
            DETAIL = json_build_object('effective_date', v_bad.effective_date, 'closed_through', v_bad.through,
                                       'entry_id', v_bad.id)::text,
            HINT = format('entry %s is dated %s, inside a closed period (closed through %s)',
                          v_bad.id, v_bad.effective_date, v_bad.through);
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        BEGIN
            PERFORM 1 FROM @ledger_schema@.ledger_period_state FOR SHARE;
            v_state_found := FOUND;
        EXCEPTION WHEN serialization_failure THEN
            RAISE EXCEPTION 'ledger: the books were closed after this transaction took its snapshot'
                USING ERRCODE = 'serialization_failure',
                HINT = 'retry the transaction: a new snapshot sees the close';
        END;
        IF NOT v_state_found THEN
            RAISE EXCEPTION 'ledger: ledger_period_state has lost its row; closes cannot be checked'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF v_kind = 2 THEN
        RAISE EXCEPTION 'ledger: entry % names account % or % in %, which does not exist or has another currency',
            v_bad.id, v_bad.ref0, v_bad.ref1, v_bad.cur
            USING ERRCODE = 'foreign_key_violation';
    ELSIF v_kind = 3 THEN
        RAISE EXCEPTION 'ledger: entry % reverses entry %, which does not exist', v_bad.id, v_bad.ref0
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF v_sum.lo IS NOT NULL THEN
        INSERT INTO @ledger_schema@.ledger_entry_batch (lo, hi) VALUES (v_sum.lo, v_sum.hi);
    END IF;
    RETURN NULL;
END $$;

-- A close however written (period_close, or a raw INSERT): it waits for every
-- poster already writing entries and holds off new ones until it commits, and
-- it updates ledger_period_state, which posters at REPEATABLE READ or
-- SERIALIZABLE lock (above). The Python service takes the same lock earlier,
-- before it reads the current close.
CREATE OR REPLACE FUNCTION ledger_period_close_order_posters() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE @ledger_schema@.ledger_entry IN SHARE ROW EXCLUSIVE MODE;
    UPDATE @ledger_schema@.ledger_period_state SET closes = closes + 1;
    RETURN NULL;
END $$;

-- Posting references, one set-based check per INSERT statement (ADR 0005):
-- each posting's entry exists, was written by this transaction and declares
-- the posting's leg count (and keeps no legs on its own row); its account exists
-- with the posting's currency.
-- A large statement's postings usually cover a compact run of entry ids (a
-- bulk chunk), so those entries are read as one id range and hash-joined: a
-- probe per posting cost a bulk post about a tenth of its time. That query is
-- planned with the actual range (EXECUTE); a generic plan guessed a few dozen
-- rows and chose a nested loop. A small or sparse statement (a single post)
-- runs one probing query for entries and accounts together, as does a range
-- that finds a problem, to name the posting.
CREATE OR REPLACE FUNCTION ledger_posting_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    v_bad record;
    v_lo bigint;
    v_hi bigint;
    v_rows bigint;
    v_tx bigint := pg_current_xact_id()::text::bigint;
    v_first_bad bigint;
BEGIN
    SELECT min(entry_id), max(entry_id), count(*) INTO v_lo, v_hi, v_rows FROM new_postings;
    IF v_rows > 64 AND v_hi - v_lo <= 4 * v_rows THEN
        EXECUTE format($q$
            SELECT min(l.entry_id) FILTER (WHERE e.id IS NULL OR e.leg_count <> l.leg_count
                                              OR l.leg_count <> l.max_leg_count OR e.tx IS DISTINCT FROM %s
                                              OR e.leg0_account_id IS NOT NULL)
              FROM (SELECT entry_id, min(leg_count) AS leg_count, max(leg_count) AS max_leg_count
                      FROM new_postings GROUP BY entry_id) l
              LEFT JOIN (SELECT id, leg_count, tx, leg0_account_id
                           FROM @ledger_schema@.ledger_entry WHERE id BETWEEN %s AND %s) e
                ON e.id = l.entry_id$q$, v_tx, v_lo, v_hi) INTO v_first_bad;
        IF v_first_bad IS NULL AND NOT EXISTS (
            SELECT 1 FROM (SELECT DISTINCT account_id, currency FROM new_postings) n
             WHERE NOT EXISTS (SELECT 1 FROM @ledger_schema@.ledger_account a WHERE a.id = n.account_id AND a.currency = n.currency)
        ) THEN
            RETURN NULL;
        END IF;
    END IF;
    -- Probe per posting; also names the bad posting when the range found one.
    SELECT n.entry_id, n.leg_index,
           e.id IS NULL AS no_entry, e.leg_count <> n.leg_count AS wrong_legs,
           e.tx IS DISTINCT FROM v_tx AS old_entry, e.leg0_account_id IS NOT NULL AS on_row
      INTO v_bad
      FROM new_postings n
      LEFT JOIN @ledger_schema@.ledger_entry e ON e.id = n.entry_id
      LEFT JOIN @ledger_schema@.ledger_account a ON a.id = n.account_id AND a.currency = n.currency
     WHERE e.id IS NULL OR e.leg_count <> n.leg_count OR e.tx IS DISTINCT FROM v_tx OR a.id IS NULL
        OR e.leg0_account_id IS NOT NULL
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger: posting % of entry % is invalid: %', v_bad.leg_index, v_bad.entry_id,
            CASE WHEN v_bad.no_entry THEN 'no such entry'
                 WHEN v_bad.wrong_legs THEN 'its leg count differs from the entry''s'
                 WHEN v_bad.old_entry THEN 'postings can only be written with their entry, in the same transaction'
                 WHEN v_bad.on_row THEN 'its entry keeps its two legs on its own row'
                 ELSE 'its account does not exist or has another currency' END
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END $$;
