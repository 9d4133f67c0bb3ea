-- Search index with filter tokens (archive/search/index.py and filters.py explain the layout).
-- search_fts: the four text columns as before plus `f`, the item's type/unit/date/code tokens,
-- so filters are part of the MATCH. Contentless, like items_fts.
CREATE VIRTUAL TABLE search_fts USING fts5(
    text, title, name, unit, f,
    content='', tokenize='ascii'
);
-- tokenize='ascii' since the fifteenth session on issue 15 (archive/search/fts5.py): archives
-- migrated before it have 'unicode61 remove_diacritics 0' until `evidence reindex` rebuilds.
INSERT INTO search_fts (search_fts, rank) VALUES ('automerge', 16);
-- One row per indexed item: the `f` tokens it was written with (needed to delete the row) and a
-- digest of the text fields (fsck finds drift). No copy of the text: see search_old.
CREATE TABLE search_docs (
    item_id INTEGER PRIMARY KEY,
    f TEXT NOT NULL,
    src_hash BLOB NOT NULL
);
-- The text fields an indexed item had when it was indexed, kept at its first change after that
-- (FTS5 in SQLite 3.40 deletes a contentless row only when given back its tokens). index_item
-- uses and clears it in the writer's own transaction, so it is empty between transactions.
CREATE TABLE search_old (
    item_id INTEGER PRIMARY KEY,
    text TEXT, title TEXT, name TEXT, unit TEXT
);
CREATE TRIGGER search_old_update BEFORE UPDATE OF text, title, original_name, unit ON items
WHEN EXISTS (SELECT 1 FROM search_docs WHERE item_id = OLD.id)
BEGIN
    INSERT OR IGNORE INTO search_old (item_id, text, title, name, unit)
    VALUES (OLD.id, OLD.text, OLD.title, OLD.original_name, OLD.unit); END;
CREATE TRIGGER search_old_delete BEFORE DELETE ON items
WHEN EXISTS (SELECT 1 FROM search_docs WHERE item_id = OLD.id)
BEGIN
    INSERT OR IGNORE INTO search_old (item_id, text, title, name, unit)
    VALUES (OLD.id, OLD.text, OLD.title, OLD.original_name, OLD.unit); END;
-- Items whose filter tokens or liveness may be stale (changed by a writer that has not called
-- index_item yet, e.g. a code renamed by a map change). While any exist, search evaluates
-- filters in SQL (exact, slower); index_item, `evidence reindex` and catch_up clear them.
CREATE TABLE search_pending (item_id INTEGER PRIMARY KEY);
CREATE TRIGGER search_pending_item_insert AFTER INSERT ON items
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.id); END;
CREATE TRIGGER search_pending_item_update
AFTER UPDATE OF material_type, unit, date, deleted_at, text, title, original_name ON items
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.id); END;
CREATE TRIGGER search_pending_item_delete AFTER DELETE ON items
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (OLD.id); END;
CREATE TRIGGER search_pending_codes_insert AFTER INSERT ON item_codes
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.item_id); END;
CREATE TRIGGER search_pending_codes_delete AFTER DELETE ON item_codes
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (OLD.item_id); END;
CREATE TRIGGER search_pending_codes_update AFTER UPDATE ON item_codes
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (OLD.item_id); INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.item_id); END;
-- Items still indexed only in the old items_fts. While any remain, search reads items_fts and
-- index_item writes both; catch_up (run by `evidence reindex`) moves them over in short batches
-- and drops the old tables when none remain. A new archive starts with none.
CREATE TABLE search_unmoved (item_id INTEGER PRIMARY KEY);
INSERT INTO search_unmoved (item_id) SELECT item_id FROM items_fts_src;
CREATE TABLE search_state (key TEXT PRIMARY KEY, value);
INSERT INTO search_state (key, value) VALUES ('analyzer', 1);
