CREATE TABLE maps (
    id INTEGER PRIMARY KEY,
    map_id TEXT NOT NULL,
    edition TEXT NOT NULL,
    yaml TEXT NOT NULL,
    source_path TEXT,
    loaded_at TEXT NOT NULL,
    loaded_by TEXT
);
CREATE TABLE files (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    kind TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TABLE items (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL REFERENCES files(sha256),
    kind TEXT NOT NULL,              -- pdf docx xlsx xls csv jpeg png
    material_type TEXT NOT NULL,     -- 规范文件 情况说明 实景图片 统计表格 工作台账
    title TEXT NOT NULL,
    original_name TEXT NOT NULL,     -- verbatim, Chinese kept
    unit TEXT,
    date TEXT,                       -- effective date YYYY-MM-DD (given, else EXIF)
    date_source TEXT,                -- 'given' | 'exif' | NULL
    size INTEGER NOT NULL,
    text TEXT NOT NULL DEFAULT '',   -- extracted text, as extracted
    meta TEXT NOT NULL DEFAULT '{}', -- JSON: exif, gps, pages, sheets ...
    ocr_status TEXT NOT NULL DEFAULT 'none',   -- none | pending | done | failed
    review_state TEXT NOT NULL DEFAULT 'pending',  -- pending | approved | rejected
    created_at TEXT NOT NULL,
    created_by TEXT,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    deleted_by TEXT
);
CREATE UNIQUE INDEX items_sha256 ON items(sha256);
CREATE INDEX items_unit ON items(unit);
CREATE INDEX items_date ON items(date);
CREATE TABLE item_codes (
    item_id INTEGER NOT NULL REFERENCES items(id),
    code TEXT NOT NULL,              -- exactly as the map writes it
    added_at TEXT NOT NULL,
    added_by TEXT,
    PRIMARY KEY (item_id, code)
);
CREATE INDEX item_codes_code ON item_codes(code);
CREATE TABLE versions (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    sha256 TEXT NOT NULL REFERENCES files(sha256),
    original_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT
);
CREATE INDEX versions_item ON versions(item_id);
CREATE TABLE reviews (
    id INTEGER PRIMARY KEY,
    item_id INTEGER NOT NULL REFERENCES items(id),
    decision TEXT NOT NULL,          -- approved | rejected
    comment TEXT,
    reviewer TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX reviews_item ON reviews(item_id);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,              -- clerk | reviewer | auditor | admin
    unit TEXT,
    password_hash TEXT NOT NULL,
    api_token_hash TEXT,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    user TEXT,
    ip TEXT,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT
);
CREATE INDEX audit_at ON audit(at);
