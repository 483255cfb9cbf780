-- ClearFrame ledger: database-level guarantees on SQLite (the embedded default).
-- SQLite has no deferred triggers, so an entry's balance is checked when its
-- last leg is inserted, and legs must arrive in order. Statements are
-- separated by lines holding only '--;;'.

CREATE TRIGGER ledger_posting_refs BEFORE INSERT ON ledger_posting BEGIN
    SELECT RAISE(ABORT, 'ledger: posting account does not exist or has another currency')
     WHERE NOT EXISTS (SELECT 1 FROM ledger_account WHERE id = NEW.account_id AND currency = NEW.currency);
    SELECT RAISE(ABORT, 'ledger: posting entry does not exist or declares another number of legs')
     WHERE NOT EXISTS (SELECT 1 FROM ledger_entry WHERE id = NEW.entry_id AND leg_count = NEW.leg_count);
    SELECT RAISE(ABORT, 'ledger: legs must be inserted in order, with their entry')
     WHERE (SELECT count(*) FROM ledger_posting WHERE entry_id = NEW.entry_id) <> NEW.leg_index;
END;
--;;
CREATE TRIGGER ledger_posting_balanced AFTER INSERT ON ledger_posting
WHEN NEW.leg_index = NEW.leg_count - 1 BEGIN
    SELECT RAISE(ABORT, 'ledger: entry does not balance in each currency')
     WHERE EXISTS (SELECT 1 FROM ledger_posting WHERE entry_id = NEW.entry_id
                    GROUP BY currency HAVING sum(amount) <> 0);
END;
--;;
CREATE TRIGGER ledger_entry_open_period BEFORE INSERT ON ledger_entry BEGIN
    SELECT RAISE(ABORT, 'ledger: entry is dated inside a closed period')
     WHERE NEW.effective_date <= (SELECT max(through_date) FROM ledger_period_close);
END;
--;;
CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE ON ledger_entry BEGIN
    SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_entry is not allowed; the ledger is append-only');
END;
--;;
CREATE TRIGGER ledger_entry_no_delete BEFORE DELETE ON ledger_entry BEGIN
    SELECT RAISE(ABORT, 'ledger: DELETE on ledger_entry is not allowed; the ledger is append-only');
END;
--;;
CREATE TRIGGER ledger_posting_no_update BEFORE UPDATE ON ledger_posting BEGIN
    SELECT RAISE(ABORT, 'ledger: UPDATE on ledger_posting is not allowed; the ledger is append-only');
END;
--;;
CREATE TRIGGER ledger_posting_no_delete BEFORE DELETE ON ledger_posting BEGIN
    SELECT RAISE(ABORT, 'ledger: DELETE on ledger_posting is not allowed; the ledger is append-only');
END;
--;;
CREATE TRIGGER ledger_period_close_no_update BEFORE UPDATE ON ledger_period_close BEGIN
    SELECT RAISE(ABORT, 'ledger: closed periods cannot be changed');
END;
--;;
CREATE TRIGGER ledger_period_close_no_delete BEFORE DELETE ON ledger_period_close BEGIN
    SELECT RAISE(ABORT, 'ledger: closed periods cannot be reopened');
END;
--;;
CREATE TRIGGER ledger_chain_seal_no_update BEFORE UPDATE ON ledger_chain_seal BEGIN
    SELECT RAISE(ABORT, 'ledger: chain seals are append-only');
END;
--;;
CREATE TRIGGER ledger_chain_seal_no_delete BEFORE DELETE ON ledger_chain_seal BEGIN
    SELECT RAISE(ABORT, 'ledger: chain seals are append-only');
END;
--;;
CREATE TRIGGER ledger_chain_block_no_update BEFORE UPDATE ON ledger_chain_block BEGIN
    SELECT RAISE(ABORT, 'ledger: chain blocks are append-only');
END;
--;;
CREATE TRIGGER ledger_chain_block_no_delete BEFORE DELETE ON ledger_chain_block BEGIN
    SELECT RAISE(ABORT, 'ledger: chain blocks are append-only');
END;
--;;
CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account BEGIN
    SELECT RAISE(ABORT, 'ledger: accounts cannot be deleted');
END;
--;;
CREATE TRIGGER ledger_account_fixed BEFORE UPDATE OF id, code, currency, type, forbid_negative ON ledger_account
WHEN NEW.id IS NOT OLD.id OR NEW.code IS NOT OLD.code OR NEW.currency IS NOT OLD.currency
  OR NEW.type IS NOT OLD.type OR NEW.forbid_negative IS NOT OLD.forbid_negative BEGIN
    SELECT RAISE(ABORT, 'ledger: an account cannot change its code, currency, type or no-overdraft rule');
END;
--;;
CREATE TRIGGER ledger_account_day_no_delete BEFORE DELETE ON ledger_account_day BEGIN
    SELECT RAISE(ABORT, 'ledger: day totals cannot be deleted');
END;
