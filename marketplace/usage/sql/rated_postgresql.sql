-- Events are never updated except to record the rating run that took them, once. The WHEN clause is
-- evaluated without calling the function, so claiming a million events for rating costs no PL/pgSQL calls.
CREATE OR REPLACE FUNCTION usage_event_refs_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'usage event %: events are immutable; only an unrated event can be marked rated, once',
        OLD.event_id USING ERRCODE = 'integrity_constraint_violation';
END $$;

DROP TRIGGER IF EXISTS usage_event_refs_fixed ON usage_usageevent;
CREATE TRIGGER usage_event_refs_fixed BEFORE UPDATE ON usage_usageevent
    FOR EACH ROW WHEN (
        NEW.licensee_id IS DISTINCT FROM OLD.licensee_id OR NEW.licence_id IS DISTINCT FROM OLD.licence_id
        OR NEW.asset_id IS DISTINCT FROM OLD.asset_id OR NEW.event_id IS DISTINCT FROM OLD.event_id
        OR NEW.metric IS DISTINCT FROM OLD.metric OR NEW.quantity IS DISTINCT FROM OLD.quantity
        OR NEW.occurred_at IS DISTINCT FROM OLD.occurred_at OR NEW.source IS DISTINCT FROM OLD.source
        OR (OLD.rating_run_id IS NOT NULL AND NEW.rating_run_id IS DISTINCT FROM OLD.rating_run_id)
    ) EXECUTE FUNCTION usage_event_refs_fixed();
