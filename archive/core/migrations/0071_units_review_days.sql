-- Review decisions per unit and 北京时间 day, for the ranking's 退回率 (archive/units/ranking.py):
-- kept by the triggers below, so a ranking over any period sums a few thousand rows instead of
-- joining every review to its item. A decision counts for the unit its item has now (as the
-- join did): moving an item to another unit moves its decisions. Derived data, no audit row;
-- units.facts checks and rebuilds it with unit_owed_facts. After 0050 for the same reason as 0070.
CREATE TABLE unit_review_days (
    unit TEXT NOT NULL,             -- items.unit of the reviewed item
    day TEXT NOT NULL,              -- the decision's 北京时间 day, YYYY-MM-DD
    decisions INTEGER NOT NULL,
    rejected INTEGER NOT NULL,      -- of which sent the material back
    PRIMARY KEY (unit, day)
) WITHOUT ROWID;
INSERT INTO unit_review_days (unit, day, decisions, rejected)
    SELECT i.unit, date(r.created_at, '+8 hours'), count(*), sum(r.decision = 'rejected')
    FROM reviews r JOIN items i ON i.id = r.item_id
    WHERE i.unit IS NOT NULL AND date(r.created_at, '+8 hours') IS NOT NULL
    GROUP BY i.unit, date(r.created_at, '+8 hours');
CREATE TRIGGER unit_review_days_insert AFTER INSERT ON reviews
BEGIN
    INSERT INTO unit_review_days (unit, day, decisions, rejected)
    SELECT i.unit, date(NEW.created_at, '+8 hours'), 1, NEW.decision = 'rejected'
    FROM items i WHERE i.id = NEW.item_id AND i.unit IS NOT NULL AND date(NEW.created_at, '+8 hours') IS NOT NULL
    ON CONFLICT (unit, day) DO UPDATE SET decisions = decisions + 1, rejected = rejected + excluded.rejected; -- add
END;
CREATE TRIGGER unit_review_days_delete AFTER DELETE ON reviews
BEGIN
    UPDATE unit_review_days SET decisions = decisions - 1, rejected = rejected - (OLD.decision = 'rejected')
    WHERE day = date(OLD.created_at, '+8 hours')
        AND unit = (SELECT unit FROM items WHERE id = OLD.item_id); -- take off
    DELETE FROM unit_review_days WHERE decisions <= 0 AND day = date(OLD.created_at, '+8 hours')
        AND unit = (SELECT unit FROM items WHERE id = OLD.item_id); -- empty day
END;
CREATE TRIGGER unit_review_days_update AFTER UPDATE OF item_id, decision, created_at ON reviews
WHEN OLD.item_id IS NOT NEW.item_id OR OLD.decision IS NOT NEW.decision OR OLD.created_at IS NOT NEW.created_at
BEGIN
    UPDATE unit_review_days SET decisions = decisions - 1, rejected = rejected - (OLD.decision = 'rejected')
    WHERE day = date(OLD.created_at, '+8 hours')
        AND unit = (SELECT unit FROM items WHERE id = OLD.item_id); -- take off
    DELETE FROM unit_review_days WHERE decisions <= 0 AND day = date(OLD.created_at, '+8 hours')
        AND unit = (SELECT unit FROM items WHERE id = OLD.item_id); -- empty day
    INSERT INTO unit_review_days (unit, day, decisions, rejected)
    SELECT i.unit, date(NEW.created_at, '+8 hours'), 1, NEW.decision = 'rejected'
    FROM items i WHERE i.id = NEW.item_id AND i.unit IS NOT NULL AND date(NEW.created_at, '+8 hours') IS NOT NULL
    ON CONFLICT (unit, day) DO UPDATE SET decisions = decisions + 1, rejected = rejected + excluded.rejected; -- add
END;
-- An item moved to another unit (or given one, or its unit taken away) takes its decisions along.
CREATE TRIGGER unit_review_days_item_unit AFTER UPDATE OF unit ON items
WHEN OLD.unit IS NOT NEW.unit
BEGIN
    UPDATE unit_review_days SET
        decisions = decisions - (SELECT count(*) FROM reviews r WHERE r.item_id = OLD.id
                                 AND date(r.created_at, '+8 hours') = unit_review_days.day),
        rejected = rejected - (SELECT count(*) FROM reviews r WHERE r.item_id = OLD.id AND r.decision = 'rejected'
                               AND date(r.created_at, '+8 hours') = unit_review_days.day)
    WHERE unit = OLD.unit
        AND day IN (SELECT date(created_at, '+8 hours') FROM reviews WHERE item_id = OLD.id); -- take off
    DELETE FROM unit_review_days WHERE decisions <= 0 AND unit = OLD.unit
        AND day IN (SELECT date(created_at, '+8 hours') FROM reviews WHERE item_id = OLD.id); -- empty days
    INSERT INTO unit_review_days (unit, day, decisions, rejected)
    SELECT NEW.unit, date(r.created_at, '+8 hours'), count(*), sum(r.decision = 'rejected')
    FROM reviews r WHERE r.item_id = NEW.id AND NEW.unit IS NOT NULL AND date(r.created_at, '+8 hours') IS NOT NULL
    GROUP BY date(r.created_at, '+8 hours')
    ON CONFLICT (unit, day) DO UPDATE SET decisions = decisions + excluded.decisions,
        rejected = rejected + excluded.rejected; -- add
END;
