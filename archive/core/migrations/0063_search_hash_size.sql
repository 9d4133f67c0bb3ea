-- FTS5 keeps a transaction's new postings in memory and writes them out as a segment when the
-- transaction ends or the memory passes `hashsize` (1 MB by default). A bulk index batch of 200
-- items holds 2–4 MB, so it was written out several times a batch: more segments, each sorted
-- and later merged again. 32 MB keeps a batch in one segment (a bulk index ~10 % faster at
-- 100,000 items, bench/RESULTS.md); a single upload never comes near it. Config only: no row changes.
INSERT INTO search_fts (search_fts, rank) VALUES ('hashsize', 33554432);
