-- Kept document counts of common ideograph bigrams (archive/search/doccounts.py): several terms
-- are ranked from them instead of walking every item holding each term. Empty until the next
-- `evidence reindex` (its compaction takes them); until then search ranks as before.
CREATE TABLE search_df (term TEXT PRIMARY KEY, docs INTEGER NOT NULL) WITHOUT ROWID;
