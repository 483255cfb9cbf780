CREATE TRIGGER IF NOT EXISTS usage_event_refs BEFORE INSERT ON usage_usageevent
WHEN NOT EXISTS (SELECT 1 FROM licensing_licence WHERE id = NEW.licence_id AND licensee_id = NEW.licensee_id)
  OR (NEW.asset_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM catalog_asset WHERE id = NEW.asset_id))
BEGIN
    SELECT RAISE(ABORT, 'usage event: unknown licence or asset, or the licence is not the licensee''s');
END;
--;;
CREATE TRIGGER IF NOT EXISTS usage_event_refs_fixed BEFORE UPDATE ON usage_usageevent
WHEN NEW.licensee_id IS NOT OLD.licensee_id OR NEW.licence_id IS NOT OLD.licence_id OR NEW.asset_id IS NOT OLD.asset_id
BEGIN
    SELECT RAISE(ABORT, 'usage event: its licensee, licence and asset cannot change');
END;
--;;
CREATE TRIGGER IF NOT EXISTS usage_keep_licence BEFORE DELETE ON licensing_licence
WHEN EXISTS (SELECT 1 FROM usage_usageevent WHERE licence_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'licence has usage events and cannot be deleted');
END;
--;;
CREATE TRIGGER IF NOT EXISTS usage_keep_asset BEFORE DELETE ON catalog_asset
WHEN EXISTS (SELECT 1 FROM usage_usageevent WHERE asset_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'asset has usage events and cannot be deleted');
END;
--;;
CREATE TRIGGER IF NOT EXISTS usage_keep_organisation BEFORE DELETE ON orgs_organisation
WHEN EXISTS (SELECT 1 FROM usage_usageevent WHERE licensee_id = OLD.id)
BEGIN
    SELECT RAISE(ABORT, 'organisation has usage events and cannot be deleted');
END;
