-- The staff review desk (issue 6): staff accounts and their sessions.
-- Owner: web (engineer G). The PostgreSQL twin is
-- migrations/postgres/0003_web.sql; keep them in step.

-- Staff who sign in to the web UI. Passwords only as argon2 PHC strings.
CREATE TABLE web_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('reviewer', 'admin')),
    password_hash TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);

-- Signed-in sessions. The cookie carries a random 256-bit token; only its
-- SHA-256 is stored, so a copy of the database cannot be used to sign in.
-- The CSRF token is per session and travels in a hidden field of every form.
CREATE TABLE web_sessions (
    token_sha256 TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES web_users (id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   TEXT    NOT NULL,
    expires_at   TEXT    NOT NULL
);

CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- The queue page searches institution names and codes and filters by
-- source within a batch; these keep that an index range scan at 100,000
-- records.
CREATE INDEX requests_batch_source ON requests (batch_date, source, status);
CREATE INDEX requests_batch_prefecture_status ON requests (batch_date, prefecture, status);
-- The counts per status of the whole queue (the "all dates" view) read
-- only this index instead of every row.
CREATE INDEX requests_superseded_status ON requests (superseded_by, status);
-- The whole-queue view lists newest batch first, then by receipt time: an
-- index in exactly that order lets a page be read without sorting 100,000
-- rows.
CREATE INDEX requests_listing_order ON requests (batch_date DESC, received_at, id);

-- Senders an admin authorised from the quarantine page: an address and the
-- prefecture it speaks for. `serve` adds them to the [prefectures]
-- directory when it starts (the released mail itself is processed at once).
CREATE TABLE web_sender_allowlist (
    address    TEXT NOT NULL PRIMARY KEY,
    prefecture TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    added_at   TEXT NOT NULL
);
