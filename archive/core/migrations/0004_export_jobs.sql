-- Declaration packages built from the web (archive/web/export_views.py): one row per build,
-- its progress while running and its report afterwards; the zip lives in exports/<id>/.
CREATE TABLE export_jobs (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    created_by TEXT,
    evaluation_date TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',   -- JSON: approved_only, include_out_of_window, strict
    state TEXT NOT NULL,                  -- queued | running | done | failed
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    error TEXT,
    path TEXT,                            -- relative to exports/, set by the server only
    size INTEGER,
    report TEXT,                          -- JSON summary of the export report
    finished_at TEXT
);
