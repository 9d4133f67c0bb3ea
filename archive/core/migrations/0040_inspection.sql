-- 督查整改 and 模拟测评 (archive/inspection/, docs/inspection.md). Units are referred to by
-- name (`unit`) until the units table (block 0030) is on main; 0041 then adds unit_id.
CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,              -- 农贸市场 背街小巷 公共厕所 学校 社区 窗口单位 公园广场 交通路口 …
    name TEXT NOT NULL UNIQUE,
    address TEXT,
    lat REAL,
    lon REAL,
    unit TEXT NOT NULL,              -- 包抓单位 (units.name)
    person TEXT,                     -- 片长
    phone TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    created_by TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX sites_unit ON sites(unit);
CREATE TABLE rounds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    held_on TEXT NOT NULL,           -- YYYY-MM-DD
    evaluator TEXT NOT NULL,         -- 第三方 / 市级 / 自查
    kind TEXT NOT NULL DEFAULT '模拟测评',   -- 模拟测评 / 督查
    map_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT
);
CREATE TABLE round_scores (
    round_id INTEGER NOT NULL REFERENCES rounds(id),
    map_id TEXT NOT NULL,
    code TEXT NOT NULL,
    full REAL NOT NULL,              -- 满分
    score REAL NOT NULL,             -- 得分; 扣分 = full - score (computed)
    reason TEXT,
    PRIMARY KEY (round_id, map_id, code)
);
CREATE TABLE problems (
    id INTEGER PRIMARY KEY,
    found_on TEXT NOT NULL,          -- YYYY-MM-DD (北京时间)
    found_by TEXT,
    source TEXT NOT NULL,            -- 日常督查 暗访 模拟测评 省市反馈 …
    round_id INTEGER REFERENCES rounds(id),
    site_id INTEGER REFERENCES sites(id),
    description TEXT NOT NULL,
    unit TEXT NOT NULL,              -- responsible unit (units.name)
    deadline TEXT NOT NULL,          -- 限期, YYYY-MM-DD 北京时间; overdue is computed
    severity TEXT NOT NULL DEFAULT '一般',   -- 一般 / 较重 / 严重
    state TEXT NOT NULL DEFAULT 'open',      -- open (待整改) / rectified (已整改待复核) / closed (已销号)
    rectified_at TEXT,
    rectified_by TEXT,
    rectify_note TEXT,
    returned_count INTEGER NOT NULL DEFAULT 0,
    closed_at TEXT,
    closed_by TEXT,
    rebound_of INTEGER REFERENCES problems(id),   -- a closed problem found again at the same 点位 and leaf
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX problems_unit_state ON problems(unit, state, deadline);
CREATE INDEX problems_state_deadline ON problems(state, deadline);
CREATE INDEX problems_site ON problems(site_id);
CREATE INDEX problems_found_on ON problems(found_on);
CREATE INDEX problems_round ON problems(round_id);
CREATE TABLE problem_codes (
    problem_id INTEGER NOT NULL REFERENCES problems(id),
    map_id TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (problem_id, map_id, code)
);
CREATE INDEX problem_codes_code ON problem_codes(map_id, code);
CREATE TABLE problem_photos (
    id INTEGER PRIMARY KEY,
    problem_id INTEGER NOT NULL REFERENCES problems(id),
    stage TEXT NOT NULL,             -- before / after
    sha256 TEXT NOT NULL REFERENCES files(sha256),
    original_name TEXT NOT NULL,
    kind TEXT NOT NULL,              -- jpeg / png
    taken_at TEXT,                   -- EXIF DateTimeOriginal (camera time)
    lat REAL,
    lon REAL,
    far_m INTEGER,                   -- metres from the 点位 when beyond the threshold (flag)
    phash TEXT,                      -- 64-bit perceptual hash, hex
    added_at TEXT NOT NULL,
    added_by TEXT
);
CREATE INDEX problem_photos_problem ON problem_photos(problem_id, stage);
CREATE TABLE problem_events (
    id INTEGER PRIMARY KEY,
    problem_id INTEGER NOT NULL REFERENCES problems(id),
    at TEXT NOT NULL,
    by TEXT,
    action TEXT NOT NULL,            -- report rectify close return reopen
    note TEXT
);
CREATE INDEX problem_events_problem ON problem_events(problem_id);
