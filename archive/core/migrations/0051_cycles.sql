-- Evaluation cycles (docs/maps.md "Cycles"): one row per 测评 (e.g. 2026年度测评).
-- state: planned | current | closed; at most one current. A closed cycle is read-only and its
-- packages rebuild from what was frozen when it closed (cycle_items) and its pinned editions.
CREATE TABLE cycles (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    evaluation_date TEXT NOT NULL,   -- YYYY-MM-DD, the default for every map of the cycle
    state TEXT NOT NULL DEFAULT 'planned',
    created_at TEXT NOT NULL,
    created_by TEXT,
    started_at TEXT,
    closed_at TEXT,
    closed_by TEXT
);
CREATE UNIQUE INDEX cycles_one_current ON cycles(state) WHERE state = 'current';
-- The maps a cycle uses; edition_id follows each new edition while the cycle is open and is
-- pinned when it closes. evaluation_date overrides the cycle's date for this map.
CREATE TABLE cycle_maps (
    cycle_id INTEGER NOT NULL REFERENCES cycles(id),
    map_id TEXT NOT NULL,
    edition_id INTEGER NOT NULL REFERENCES maps(id),
    evaluation_date TEXT,
    PRIMARY KEY (cycle_id, map_id)
);
-- What a closed cycle's packages are built from: each item as the package saw it (metadata,
-- its codes in that map, the cycle's review decision), frozen in the closing transaction.
CREATE TABLE cycle_items (
    cycle_id INTEGER NOT NULL REFERENCES cycles(id),
    map_id TEXT NOT NULL,
    item_id INTEGER NOT NULL,
    data TEXT NOT NULL,              -- JSON, the shape of coverage.load_items
    PRIMARY KEY (cycle_id, map_id, item_id)
);
-- Review decisions belong to a cycle (NULL: made before cycles existed; the first cycle adopts them).
ALTER TABLE reviews ADD COLUMN cycle_id INTEGER REFERENCES cycles(id);
CREATE INDEX reviews_cycle ON reviews(cycle_id, item_id);
