-- Full-text index (archive/search/index.py explains the layout); SQL frozen here on purpose.
CREATE VIRTUAL TABLE items_fts USING fts5(
    text, title, name, unit,
    content='', tokenize='unicode61 remove_diacritics 0'
);
CREATE TABLE items_fts_docs (
    item_id INTEGER PRIMARY KEY,
    analyzer INTEGER NOT NULL,
    tokens BLOB NOT NULL
);
