-- 0050 (several maps) rebuilds item_codes, which drops the triggers 0060 put on it when 0060 ran
-- first (archives made between the two). Put them back, and treat every item with codes as
-- pending until `evidence reindex` (catch_up) re-indexes it: a code changed meanwhile would
-- otherwise keep a stale filter token. Search stays exact (filters in SQL) until then.
INSERT OR IGNORE INTO search_pending (item_id)
    SELECT DISTINCT item_id FROM item_codes
    WHERE (SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'item_codes'
           AND name LIKE 'search_pending_codes_%') = 0;
DROP TRIGGER IF EXISTS search_pending_codes_insert;
DROP TRIGGER IF EXISTS search_pending_codes_delete;
DROP TRIGGER IF EXISTS search_pending_codes_update;
CREATE TRIGGER search_pending_codes_insert AFTER INSERT ON item_codes
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.item_id); END;
CREATE TRIGGER search_pending_codes_delete AFTER DELETE ON item_codes
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (OLD.item_id); END;
CREATE TRIGGER search_pending_codes_update AFTER UPDATE ON item_codes
BEGIN INSERT OR IGNORE INTO search_pending (item_id) VALUES (OLD.item_id); INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.item_id); END;
