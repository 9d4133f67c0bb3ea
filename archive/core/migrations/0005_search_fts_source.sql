-- The side table keeps each row's normalised source fields (zlib; ~half the size of the
-- token strings, cheaper to write) instead of the tokens; FTS5 merges less often (faster
-- writes, same query speed).
CREATE TABLE items_fts_src (
    item_id INTEGER PRIMARY KEY,
    analyzer INTEGER NOT NULL,
    source BLOB NOT NULL,
    src_hash TEXT NOT NULL
);
INSERT INTO items_fts (items_fts, rank) VALUES ('automerge', 16);
-- Rows indexed the old way (items_fts_docs) are dropped from the index; `evidence reindex`
-- (or `fsck`, which reports them as missing) puts them back in the new layout.
INSERT INTO items_fts (items_fts) VALUES ('delete-all');
DROP TABLE items_fts_docs;
