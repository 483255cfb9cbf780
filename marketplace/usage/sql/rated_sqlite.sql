DROP TRIGGER IF EXISTS usage_event_refs_fixed
--;;
CREATE TRIGGER usage_event_refs_fixed BEFORE UPDATE ON usage_usageevent
WHEN NEW.licensee_id IS NOT OLD.licensee_id OR NEW.licence_id IS NOT OLD.licence_id OR NEW.asset_id IS NOT OLD.asset_id
  OR NEW.event_id IS NOT OLD.event_id OR NEW.metric IS NOT OLD.metric OR NEW.quantity IS NOT OLD.quantity
  OR NEW.occurred_at IS NOT OLD.occurred_at OR NEW.source IS NOT OLD.source
  OR (OLD.rating_run_id IS NOT NULL AND NEW.rating_run_id IS NOT OLD.rating_run_id)
BEGIN
    SELECT RAISE(ABORT, 'usage event: events are immutable; only an unrated event can be marked rated, once');
END;
