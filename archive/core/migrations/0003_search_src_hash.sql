-- Digest of the fields each FTS row was built from: check_index finds drift cheaply.
ALTER TABLE items_fts_docs ADD COLUMN src_hash TEXT;
