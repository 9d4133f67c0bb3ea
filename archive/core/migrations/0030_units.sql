-- Units (部门, 街道 …) as records, who answers for which leaf, deadlines per round,
-- reminders sent and daily snapshots of what is owed (docs/units.md). Items and users keep
-- the unit's *name*; a rename rewrites those and keeps the old name in unit_names.
CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL DEFAULT '部门',   -- 部门 街道 乡镇 社区 学校 窗口单位 …
    parent_id INTEGER REFERENCES units(id),
    leader_name TEXT,                   -- 责任领导 (personal data: reviewers/admins only)
    leader_phone TEXT,
    contact_name TEXT,                  -- 联系人
    contact_phone TEXT,
    active INTEGER NOT NULL DEFAULT 1,  -- 0: retired (撤销), kept for history
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE unit_names (
    unit_id INTEGER NOT NULL REFERENCES units(id),
    name TEXT NOT NULL,                 -- a former name
    until TEXT NOT NULL,                -- UTC timestamp of the rename
    PRIMARY KEY (unit_id, name)
);
CREATE INDEX unit_names_name ON unit_names(name);
CREATE TABLE duties (
    map_id TEXT NOT NULL,
    code TEXT NOT NULL,
    unit_id INTEGER NOT NULL REFERENCES units(id),
    role TEXT NOT NULL,                 -- lead (牵头) | coop (配合)
    person TEXT,                        -- 责任人 for this leaf in this unit
    PRIMARY KEY (map_id, code, unit_id)
);
CREATE INDEX duties_unit ON duties(unit_id);
-- Which loaded map versions have seeded units and duties from their `units:` lists.
CREATE TABLE duty_seeds (
    maps_row INTEGER PRIMARY KEY,       -- maps.id
    map_id TEXT NOT NULL,
    seeded_at TEXT NOT NULL
);
CREATE TABLE deadlines (
    id INTEGER PRIMARY KEY,
    round TEXT NOT NULL,                -- 报送轮次, e.g. 2026年第一轮
    starts_on TEXT NOT NULL,
    due_on TEXT NOT NULL,
    map_id TEXT NOT NULL,
    code TEXT,                          -- NULL: the whole round
    unit_id INTEGER REFERENCES units(id),   -- NULL: every unit
    set_at TEXT NOT NULL,
    set_by TEXT
);
CREATE UNIQUE INDEX deadlines_scope ON deadlines(round, map_id, ifnull(code, ''), ifnull(unit_id, 0));
CREATE TABLE reminders (
    id INTEGER PRIMARY KEY,
    unit_id INTEGER NOT NULL REFERENCES units(id),
    at TEXT NOT NULL,
    by TEXT,
    channel TEXT NOT NULL,              -- record | webhook
    detail TEXT                         -- JSON: what was owed, webhook outcome
);
CREATE INDEX reminders_unit ON reminders(unit_id, at);
CREATE TABLE owed_snapshots (
    day TEXT NOT NULL,                  -- 北京时间 day
    unit_id INTEGER NOT NULL REFERENCES units(id),
    owed INTEGER NOT NULL,
    submitted INTEGER NOT NULL,
    approved INTEGER NOT NULL,
    returned INTEGER NOT NULL,
    overdue INTEGER NOT NULL,
    PRIMARY KEY (day, unit_id)
);
