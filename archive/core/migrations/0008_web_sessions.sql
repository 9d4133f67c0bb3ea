-- Web sessions (issue 10 item 7): one row per logged-in browser. The signed session cookie
-- carries a random token; only its SHA-256 is kept here. Logout deletes the row; a password
-- change (other sessions), a role or unit change and disabling the account delete the user's
-- rows, so a copied or replayed cookie stops working at once.
CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    ip TEXT
);
CREATE INDEX web_sessions_user ON web_sessions(user_id);
