-- Common grams (archive/search/grams.py): one row per indexed item holding the common
-- ideograph strings of 2–4 characters its text fields contain, without positions, so the exact
-- total of a frequent term is one walk of a doclist instead of a phrase walk through positions.
-- Empty, and unused, until `evidence reindex` builds it in an archive of 50,000+ items (grams.MIN_ITEMS); until
-- then search counts as before. No state row: grams.upto() is None.
CREATE VIRTUAL TABLE search_grams USING fts5(
    grams, content='', detail='none', columnsize=0, tokenize='ascii'
);
-- tokenize='ascii' since the fifteenth session (archive/search/fts5.py); an older table is made
-- anew when its grams are next forgotten (grams.forget).
INSERT INTO search_grams (search_grams, rank) VALUES ('hashsize', 33554432);
-- The vocabulary the rows were written with (a row is deleted with the same tokens).
CREATE TABLE search_gram_vocab (gram TEXT PRIMARY KEY) WITHOUT ROWID;
