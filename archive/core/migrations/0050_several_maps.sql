-- Several maps at once (docs/maps.md). A `maps` row is one loaded edition; a map is all rows
-- with the same map_id, its newest row the current edition. `active` is kept on every row of a
-- map alike; until now the last map loaded was "the" map, so only its id stays active.
ALTER TABLE maps ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
ALTER TABLE maps ADD COLUMN retired_at TEXT;
ALTER TABLE maps ADD COLUMN retired_by TEXT;
UPDATE maps SET active = 0, retired_at = loaded_at
    WHERE map_id <> (SELECT map_id FROM maps ORDER BY id DESC LIMIT 1);
CREATE INDEX maps_map_id ON maps(map_id, id);
-- item_codes gains the map a code belongs to; every code on file belonged to the current map.
-- Rowids are kept: codes are listed in the order they were given (ORDER BY rowid).
CREATE TABLE item_codes_v2 (
    item_id INTEGER NOT NULL REFERENCES items(id),
    map_id TEXT NOT NULL DEFAULT '', -- maps.map_id (the YAML id); '' = the newest active map
    code TEXT NOT NULL,              -- exactly as that map writes it
    added_at TEXT NOT NULL,
    added_by TEXT,
    PRIMARY KEY (item_id, map_id, code)
);
INSERT INTO item_codes_v2 (rowid, item_id, map_id, code, added_at, added_by)
    SELECT rowid, item_id, COALESCE((SELECT map_id FROM maps ORDER BY id DESC LIMIT 1), ''),
           code, added_at, added_by
    FROM item_codes;
DROP TABLE item_codes;
ALTER TABLE item_codes_v2 RENAME TO item_codes;
CREATE INDEX item_codes_code ON item_codes(code);
CREATE INDEX item_codes_map ON item_codes(map_id, code);
-- Code that inserts (item_id, code) as before gets the newest active map: with one map active,
-- that is the map the code was resolved in.
CREATE TRIGGER item_codes_default_map AFTER INSERT ON item_codes WHEN NEW.map_id = '' BEGIN UPDATE item_codes SET map_id = COALESCE((SELECT map_id FROM maps WHERE active = 1 ORDER BY id DESC LIMIT 1), '') WHERE rowid = NEW.rowid; END;
