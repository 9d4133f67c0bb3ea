-- What each unit has filed under each leaf, per material type (archive/units/obligations.py):
-- counts of its live items by review state and its first upload, kept by the triggers below in
-- the writer's own transaction, so `owed` and the ranking read a few thousand rows instead of
-- grouping every item × code. Derived data, like the search index: no audit row; units.facts
-- rebuilds it (`evidence reindex`) and compares it (`evidence fsck`).
--
-- Numbered after 0050 on purpose (not in the 0030 block): 0050 rebuilds item_codes, which drops
-- triggers on it, and its RENAME fails while a trigger on items names item_codes. A migration
-- that rebuilds items or item_codes must create these triggers again (docs/ARCHITECTURE.md).
--
-- Only items with a unit, not deleted, under a code of a known map (map_id '' is the moment
-- between an insert and the item_codes_default_map trigger) are counted.
CREATE TABLE unit_owed_facts (
    unit TEXT NOT NULL,             -- items.unit (the unit's name)
    map_id TEXT NOT NULL,
    code TEXT NOT NULL,
    material_type TEXT NOT NULL,
    items INTEGER NOT NULL,         -- live items; the row goes when it reaches 0
    approved INTEGER NOT NULL,
    pending INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    first_at TEXT,                  -- min(items.created_at): the first upload, UTC
    PRIMARY KEY (unit, map_id, code, material_type)
) WITHOUT ROWID;
INSERT INTO unit_owed_facts (unit, map_id, code, material_type, items, approved, pending, rejected, first_at)
    SELECT i.unit, c.map_id, c.code, i.material_type, count(*), sum(i.review_state = 'approved'),
           sum(i.review_state = 'pending'), sum(i.review_state = 'rejected'), min(i.created_at)
    FROM items i JOIN item_codes c ON c.item_id = i.id
    WHERE i.deleted_at IS NULL AND i.unit IS NOT NULL AND c.map_id <> ''
    GROUP BY i.unit, c.map_id, c.code, i.material_type;
-- A code given to a live item: one upsert (the upload path).
CREATE TRIGGER unit_owed_codes_insert AFTER INSERT ON item_codes WHEN NEW.map_id <> ''
BEGIN
    INSERT INTO unit_owed_facts (unit, map_id, code, material_type, items, approved, pending, rejected, first_at)
    SELECT i.unit, NEW.map_id, NEW.code, i.material_type, 1, i.review_state = 'approved',
           i.review_state = 'pending', i.review_state = 'rejected', i.created_at
    FROM items i WHERE i.id = NEW.item_id AND i.deleted_at IS NULL AND i.unit IS NOT NULL
    ON CONFLICT (unit, map_id, code, material_type) DO UPDATE SET
        items = items + 1, approved = approved + excluded.approved, pending = pending + excluded.pending,
        rejected = rejected + excluded.rejected,
        first_at = CASE WHEN first_at IS NULL OR excluded.first_at < first_at THEN excluded.first_at ELSE first_at END; -- add
END;
-- A code taken off a live item: take its counts off; the first upload is looked up again only
-- when the item was the group's first.
CREATE TRIGGER unit_owed_codes_delete AFTER DELETE ON item_codes WHEN OLD.map_id <> ''
BEGIN
    UPDATE unit_owed_facts SET items = items - 1, approved = approved - (i.review_state = 'approved'),
           pending = pending - (i.review_state = 'pending'), rejected = rejected - (i.review_state = 'rejected')
    FROM items i WHERE i.id = OLD.item_id AND i.deleted_at IS NULL AND unit_owed_facts.unit = i.unit
        AND unit_owed_facts.material_type = i.material_type AND unit_owed_facts.map_id = OLD.map_id
        AND unit_owed_facts.code = OLD.code; -- counts
    DELETE FROM unit_owed_facts WHERE items <= 0 AND map_id = OLD.map_id AND code = OLD.code
        AND (unit, material_type) IN (SELECT unit, material_type FROM items WHERE id = OLD.item_id); -- empty group
    UPDATE unit_owed_facts SET first_at = (
            SELECT min(g.created_at) FROM item_codes c JOIN items g ON g.id = c.item_id
            WHERE c.map_id = OLD.map_id AND c.code = OLD.code AND g.unit = unit_owed_facts.unit
                AND g.material_type = unit_owed_facts.material_type AND g.deleted_at IS NULL)
    FROM items i WHERE i.id = OLD.item_id AND i.deleted_at IS NULL AND unit_owed_facts.unit = i.unit
        AND unit_owed_facts.material_type = i.material_type AND unit_owed_facts.map_id = OLD.map_id
        AND unit_owed_facts.code = OLD.code AND unit_owed_facts.first_at >= i.created_at; -- first upload
END;
-- A code row moved (a map taking over another's id, a code respelled): out of the old group,
-- into the new one.
CREATE TRIGGER unit_owed_codes_update AFTER UPDATE OF item_id, map_id, code ON item_codes
WHEN OLD.item_id IS NOT NEW.item_id OR OLD.map_id IS NOT NEW.map_id OR OLD.code IS NOT NEW.code
BEGIN
    UPDATE unit_owed_facts SET items = items - 1, approved = approved - (i.review_state = 'approved'),
           pending = pending - (i.review_state = 'pending'), rejected = rejected - (i.review_state = 'rejected')
    FROM items i WHERE i.id = OLD.item_id AND i.deleted_at IS NULL AND unit_owed_facts.unit = i.unit
        AND unit_owed_facts.material_type = i.material_type AND unit_owed_facts.map_id = OLD.map_id
        AND unit_owed_facts.code = OLD.code; -- counts
    DELETE FROM unit_owed_facts WHERE items <= 0 AND map_id = OLD.map_id AND code = OLD.code
        AND (unit, material_type) IN (SELECT unit, material_type FROM items WHERE id = OLD.item_id); -- empty group
    UPDATE unit_owed_facts SET first_at = (
            SELECT min(g.created_at) FROM item_codes c JOIN items g ON g.id = c.item_id
            WHERE c.map_id = OLD.map_id AND c.code = OLD.code AND g.unit = unit_owed_facts.unit
                AND g.material_type = unit_owed_facts.material_type AND g.deleted_at IS NULL)
    FROM items i WHERE i.id = OLD.item_id AND i.deleted_at IS NULL AND unit_owed_facts.unit = i.unit
        AND unit_owed_facts.material_type = i.material_type AND unit_owed_facts.map_id = OLD.map_id
        AND unit_owed_facts.code = OLD.code AND unit_owed_facts.first_at >= i.created_at; -- first upload
    INSERT INTO unit_owed_facts (unit, map_id, code, material_type, items, approved, pending, rejected, first_at)
    SELECT i.unit, NEW.map_id, NEW.code, i.material_type, 1, i.review_state = 'approved',
           i.review_state = 'pending', i.review_state = 'rejected', i.created_at
    FROM items i WHERE i.id = NEW.item_id AND i.deleted_at IS NULL AND i.unit IS NOT NULL AND NEW.map_id <> ''
    ON CONFLICT (unit, map_id, code, material_type) DO UPDATE SET
        items = items + 1, approved = approved + excluded.approved, pending = pending + excluded.pending,
        rejected = rejected + excluded.rejected,
        first_at = CASE WHEN first_at IS NULL OR excluded.first_at < first_at THEN excluded.first_at ELSE first_at END; -- add
END;
-- A review decided or undone (requeue): the counts move between states, nothing else changes.
CREATE TRIGGER unit_owed_items_review AFTER UPDATE OF review_state ON items
WHEN OLD.review_state IS NOT NEW.review_state AND OLD.unit IS NEW.unit AND NEW.unit IS NOT NULL
    AND OLD.material_type IS NEW.material_type AND OLD.created_at IS NEW.created_at
    AND OLD.deleted_at IS NULL AND NEW.deleted_at IS NULL
BEGIN
    UPDATE unit_owed_facts SET
        approved = approved + (NEW.review_state = 'approved') - (OLD.review_state = 'approved'),
        pending = pending + (NEW.review_state = 'pending') - (OLD.review_state = 'pending'),
        rejected = rejected + (NEW.review_state = 'rejected') - (OLD.review_state = 'rejected')
    WHERE unit = NEW.unit AND material_type = NEW.material_type
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = NEW.id); -- counts
END;
-- An item deleted, restored, moved to another unit or type (or its upload time rewritten):
-- out of its old groups, into its new ones.
CREATE TRIGGER unit_owed_items_move AFTER UPDATE OF unit, material_type, review_state, created_at, deleted_at ON items
WHEN OLD.unit IS NOT NEW.unit OR OLD.material_type IS NOT NEW.material_type
    OR OLD.created_at IS NOT NEW.created_at OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)
BEGIN
    UPDATE unit_owed_facts SET items = items - 1, approved = approved - (OLD.review_state = 'approved'),
           pending = pending - (OLD.review_state = 'pending'), rejected = rejected - (OLD.review_state = 'rejected')
    WHERE OLD.deleted_at IS NULL AND unit = OLD.unit AND material_type = OLD.material_type
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = OLD.id); -- counts
    DELETE FROM unit_owed_facts WHERE items <= 0 AND unit = OLD.unit AND material_type = OLD.material_type
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = OLD.id); -- empty groups
    UPDATE unit_owed_facts SET first_at = (
            SELECT min(g.created_at) FROM item_codes c JOIN items g ON g.id = c.item_id
            WHERE c.map_id = unit_owed_facts.map_id AND c.code = unit_owed_facts.code
                AND g.unit = unit_owed_facts.unit AND g.material_type = unit_owed_facts.material_type
                AND g.deleted_at IS NULL)
    WHERE OLD.deleted_at IS NULL AND unit = OLD.unit AND material_type = OLD.material_type
        AND first_at >= OLD.created_at
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = OLD.id); -- first upload
    INSERT INTO unit_owed_facts (unit, map_id, code, material_type, items, approved, pending, rejected, first_at)
    SELECT NEW.unit, c.map_id, c.code, NEW.material_type, 1, NEW.review_state = 'approved',
           NEW.review_state = 'pending', NEW.review_state = 'rejected', NEW.created_at
    FROM item_codes c WHERE c.item_id = NEW.id AND c.map_id <> '' AND NEW.deleted_at IS NULL AND NEW.unit IS NOT NULL
    ON CONFLICT (unit, map_id, code, material_type) DO UPDATE SET
        items = items + 1, approved = approved + excluded.approved, pending = pending + excluded.pending,
        rejected = rejected + excluded.rejected,
        first_at = CASE WHEN first_at IS NULL OR excluded.first_at < first_at THEN excluded.first_at ELSE first_at END; -- add
END;
-- Codes are written after their item, so an insert adds nothing unless codes came first; a
-- hard delete (the codes go first, foreign keys) likewise. Both kept for writers that differ.
CREATE TRIGGER unit_owed_items_insert AFTER INSERT ON items
WHEN NEW.deleted_at IS NULL AND NEW.unit IS NOT NULL
BEGIN
    INSERT INTO unit_owed_facts (unit, map_id, code, material_type, items, approved, pending, rejected, first_at)
    SELECT NEW.unit, c.map_id, c.code, NEW.material_type, 1, NEW.review_state = 'approved',
           NEW.review_state = 'pending', NEW.review_state = 'rejected', NEW.created_at
    FROM item_codes c WHERE c.item_id = NEW.id AND c.map_id <> ''
    ON CONFLICT (unit, map_id, code, material_type) DO UPDATE SET
        items = items + 1, approved = approved + excluded.approved, pending = pending + excluded.pending,
        rejected = rejected + excluded.rejected,
        first_at = CASE WHEN first_at IS NULL OR excluded.first_at < first_at THEN excluded.first_at ELSE first_at END; -- add
END;
CREATE TRIGGER unit_owed_items_delete AFTER DELETE ON items
WHEN OLD.deleted_at IS NULL AND OLD.unit IS NOT NULL
BEGIN
    UPDATE unit_owed_facts SET items = items - 1, approved = approved - (OLD.review_state = 'approved'),
           pending = pending - (OLD.review_state = 'pending'), rejected = rejected - (OLD.review_state = 'rejected')
    WHERE unit = OLD.unit AND material_type = OLD.material_type
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = OLD.id); -- counts
    DELETE FROM unit_owed_facts WHERE items <= 0 AND unit = OLD.unit AND material_type = OLD.material_type
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = OLD.id); -- empty groups
    UPDATE unit_owed_facts SET first_at = (
            SELECT min(g.created_at) FROM item_codes c JOIN items g ON g.id = c.item_id
            WHERE c.map_id = unit_owed_facts.map_id AND c.code = unit_owed_facts.code
                AND g.unit = unit_owed_facts.unit AND g.material_type = unit_owed_facts.material_type
                AND g.deleted_at IS NULL)
    WHERE unit = OLD.unit AND material_type = OLD.material_type AND first_at >= OLD.created_at
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = OLD.id); -- first upload
END;
