-- Instance-wide settings a person sets once (e.g. the evaluation date reviewers work to).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT,
    updated_at TEXT NOT NULL,
    updated_by TEXT
);
