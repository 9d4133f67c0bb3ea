-- The first upload of a group is looked up again when its first item leaves it. 0070 did it by
-- reading every item under the leaf (~220 at 100,000 items) and did it for nearly every row of a
-- bulk move (a map taking over another's id: 17 s at 100,000 items, 1.2 s without the
-- triggers). An index on (unit, type, upload time) lets the lookup walk the group's unit and type
-- in upload order and stop at the first item still under the leaf. Same triggers otherwise.
CREATE INDEX items_first_upload ON items(unit, material_type, created_at)
    WHERE deleted_at IS NULL AND unit IS NOT NULL;
DROP TRIGGER unit_owed_codes_delete;
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
            SELECT g.created_at FROM items g
            WHERE g.unit = unit_owed_facts.unit AND g.material_type = unit_owed_facts.material_type
                AND g.deleted_at IS NULL AND EXISTS (SELECT 1 FROM item_codes c WHERE c.item_id = g.id
                    AND c.map_id = OLD.map_id AND c.code = OLD.code)
            ORDER BY g.created_at LIMIT 1)
    FROM items i WHERE i.id = OLD.item_id AND i.deleted_at IS NULL AND unit_owed_facts.unit = i.unit
        AND unit_owed_facts.material_type = i.material_type AND unit_owed_facts.map_id = OLD.map_id
        AND unit_owed_facts.code = OLD.code AND unit_owed_facts.first_at >= i.created_at; -- first upload
END;
DROP TRIGGER unit_owed_codes_update;
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
            SELECT g.created_at FROM items g
            WHERE g.unit = unit_owed_facts.unit AND g.material_type = unit_owed_facts.material_type
                AND g.deleted_at IS NULL AND EXISTS (SELECT 1 FROM item_codes c WHERE c.item_id = g.id
                    AND c.map_id = OLD.map_id AND c.code = OLD.code)
            ORDER BY g.created_at LIMIT 1)
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
DROP TRIGGER unit_owed_items_move;
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
            SELECT g.created_at FROM items g
            WHERE g.unit = unit_owed_facts.unit AND g.material_type = unit_owed_facts.material_type
                AND g.deleted_at IS NULL AND EXISTS (SELECT 1 FROM item_codes c WHERE c.item_id = g.id
                    AND c.map_id = unit_owed_facts.map_id AND c.code = unit_owed_facts.code)
            ORDER BY g.created_at LIMIT 1)
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
DROP TRIGGER unit_owed_items_delete;
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
            SELECT g.created_at FROM items g
            WHERE g.unit = unit_owed_facts.unit AND g.material_type = unit_owed_facts.material_type
                AND g.deleted_at IS NULL AND EXISTS (SELECT 1 FROM item_codes c WHERE c.item_id = g.id
                    AND c.map_id = unit_owed_facts.map_id AND c.code = unit_owed_facts.code)
            ORDER BY g.created_at LIMIT 1)
    WHERE unit = OLD.unit AND material_type = OLD.material_type AND first_at >= OLD.created_at
        AND (map_id, code) IN (SELECT map_id, code FROM item_codes WHERE item_id = OLD.id); -- first upload
END;
