-- The queue (issue 3): requests from sheets and G-MIS, their item lines, the
-- raw bytes they came from, and the audit history. Owner: queue (engineer D).
-- The PostgreSQL twin is migrations/postgres/0001_queue.sql; keep them in step.
--
-- Conventions shared with the PostgreSQL schema (the code reads both through
-- sqlx's Any driver):
--   * times are TEXT in UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ` (sorts as time);
--   * dates are TEXT `YYYY-MM-DD`;
--   * flags are INTEGER 0/1 (Any has no portable boolean);
--   * statuses are stored as their Japanese words (request::Status::as_str).

-- Raw mail and attachments, content-addressed. Never updated.
CREATE TABLE blobs (
    sha256    TEXT    PRIMARY KEY,
    size      INTEGER NOT NULL,
    content   BLOB    NOT NULL,
    stored_at TEXT    NOT NULL
);

CREATE TRIGGER blobs_never_change
BEFORE UPDATE ON blobs
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: blobs are content-addressed and never change');
END;

-- One row per request (one sheet in one attachment, or one G-MIS レコードID).
CREATE TABLE requests (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    -- 受付番号, e.g. SOS-20261121-000123.
    receipt                 TEXT    NOT NULL UNIQUE,
    -- What makes a filing the same filing: `sheet:<message sha>:<attachment sha>:<sheet>`
    -- or `gmis:<レコードID>`. Filing again hits this constraint, never a second row.
    filing_key              TEXT    NOT NULL UNIQUE,
    source                  TEXT    NOT NULL CHECK (source IN ('g-mis', 'sheet')),
    status                  TEXT    NOT NULL CHECK (status IN ('未申請', 'エラー有り', '都道府県・国確認中', '受付完了')),
    received_at             TEXT    NOT NULL,
    batch_date              TEXT    NOT NULL,
    batch_reason            TEXT    NOT NULL DEFAULT '',
    prefecture              TEXT    NOT NULL,
    institution_code        TEXT    NOT NULL,
    institution_name        TEXT    NOT NULL,
    institution_postcode    TEXT    NOT NULL DEFAULT '',
    institution_prefecture  TEXT,
    institution_address     TEXT    NOT NULL DEFAULT '',
    institution_phone       TEXT    NOT NULL DEFAULT '',
    institution_contact     TEXT    NOT NULL DEFAULT '',
    -- Comma-separated Item codes with 要請する, for listing without a join.
    requested_items         TEXT    NOT NULL DEFAULT '',
    -- JSON array of validation::Finding.
    findings                TEXT    NOT NULL DEFAULT '[]',
    error_count             INTEGER NOT NULL DEFAULT 0,
    warning_count           INTEGER NOT NULL DEFAULT 0,
    -- Earlier accepted distributions (受付完了 with an approved item) to this
    -- institution, computed when filed; what the prefecture wrote stays in
    -- the item lines' opinion.
    earlier_distributions   INTEGER NOT NULL DEFAULT 0,
    -- Filed after a 受付完了 record for the same institution, item and batch.
    refused_because_completed INTEGER NOT NULL DEFAULT 0,
    superseded_by           INTEGER REFERENCES requests (id),
    source_message_sha256   TEXT,
    attachment_sha256       TEXT,
    attachment_name         TEXT    NOT NULL DEFAULT '',
    sheet_name              TEXT    NOT NULL DEFAULT '',
    gmis_record_id          TEXT    UNIQUE,
    -- SHA-256 of the G-MIS rows as imported: an identical re-import is a no-op.
    gmis_content_sha256     TEXT,
    created_at              TEXT    NOT NULL,
    updated_at              TEXT    NOT NULL,
    completed_at            TEXT,
    completed_by            TEXT
);

CREATE INDEX requests_batch_status     ON requests (batch_date, status);
CREATE INDEX requests_batch_received   ON requests (batch_date, received_at, id);
CREATE INDEX requests_prefecture_batch ON requests (prefecture, batch_date);
CREATE INDEX requests_institution      ON requests (institution_code, batch_date);
CREATE INDEX requests_status           ON requests (status);
CREATE INDEX requests_superseded_by    ON requests (superseded_by);

-- Item lines: what the institution wrote, the prefecture's decision, MHLW's.
CREATE TABLE request_items (
    request_id          INTEGER NOT NULL REFERENCES requests (id),
    item                TEXT    NOT NULL,
    position            INTEGER NOT NULL,
    requested           INTEGER NOT NULL,
    stock               INTEGER,
    outlook             TEXT,
    weekly_use          INTEGER,
    weekly_purchase     INTEGER,
    reason              TEXT    NOT NULL DEFAULT '',
    pref_need           TEXT,
    pref_method         TEXT,
    pref_prefecture_quantity INTEGER,
    pref_national_quantity   INTEGER,
    pref_total_quantity      INTEGER,
    pref_opinion        TEXT    NOT NULL DEFAULT '',
    mhlw_approved       INTEGER,
    mhlw_quantity       INTEGER,
    mhlw_ship_date      TEXT,
    mhlw_reason         TEXT    NOT NULL DEFAULT '',
    mhlw_decided_by     TEXT,
    mhlw_decided_at     TEXT,
    PRIMARY KEY (request_id, item)
);

CREATE INDEX request_items_item ON request_items (item, requested);

-- Institution codes seen in G-MIS: a sheet for one of them is an error.
CREATE TABLE gmis_institutions (
    code          TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL
);

-- The receipt counter. Taking it is the first write of every filing, so it
-- also serialises filings (supersession never races).
CREATE TABLE receipt_sequence (
    name TEXT    PRIMARY KEY,
    last INTEGER NOT NULL
);

-- Who changed what, when and why. Append-only.
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id INTEGER REFERENCES requests (id),
    at         TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}',
    reason     TEXT    NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_request ON audit_log (request_id, id);

CREATE TRIGGER audit_log_append_only_update
BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: the audit history is append-only');
END;

CREATE TRIGGER audit_log_append_only_delete
BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: the audit history is append-only');
END;

-- A 受付完了 record never changes again, by any path.
CREATE TRIGGER requests_completed_no_update
BEFORE UPDATE ON requests
WHEN OLD.status = '受付完了'
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: record is 受付完了 and cannot change');
END;

CREATE TRIGGER requests_completed_no_delete
BEFORE DELETE ON requests
WHEN OLD.status = '受付完了'
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: record is 受付完了 and cannot change');
END;

CREATE TRIGGER request_items_completed_no_insert
BEFORE INSERT ON request_items
WHEN (SELECT status FROM requests WHERE id = NEW.request_id) = '受付完了'
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: record is 受付完了 and cannot change');
END;

CREATE TRIGGER request_items_completed_no_update
BEFORE UPDATE ON request_items
WHEN (SELECT status FROM requests WHERE id = OLD.request_id) = '受付完了'
  OR (SELECT status FROM requests WHERE id = NEW.request_id) = '受付完了'
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: record is 受付完了 and cannot change');
END;

CREATE TRIGGER request_items_completed_no_delete
BEFORE DELETE ON request_items
WHEN (SELECT status FROM requests WHERE id = OLD.request_id) = '受付完了'
BEGIN
    SELECT RAISE(ABORT, 'sos-intake: record is 受付完了 and cannot change');
END;
