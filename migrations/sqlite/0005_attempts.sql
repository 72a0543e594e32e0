-- Poison messages (issue 11): every attempt at a message is counted in its
-- own committed transaction before the message is read, so a message that
-- makes the process die is recognised on the next start. A message that
-- fails permanently, or too often, is set aside as 処理不能 (state 'dead'):
-- its raw bytes stay in blobs, the reason is kept, staff see it in the web
-- UI and an admin can try it again.
-- The PostgreSQL twin is migrations/postgres/0005_attempts.sql; keep them in step.
-- Same conventions as 0001_queue.sql (UTC text times, INTEGER numbers).
CREATE TABLE intake_attempts (
    -- SHA-256 of the raw bytes (the blob key); the same bytes are the same
    -- message, whatever source delivered them.
    raw_sha256    TEXT    PRIMARY KEY REFERENCES blobs (sha256),
    -- Where it came from (maildir, ingest, imap, retry) the last time.
    source        TEXT    NOT NULL,
    received_at   TEXT    NOT NULL,
    -- What a bounded look at the header block found (for the staff list;
    -- the message may be unreadable to the real parser).
    message_id    TEXT    NOT NULL DEFAULT '',
    from_address  TEXT    NOT NULL DEFAULT '',
    subject       TEXT    NOT NULL DEFAULT '',
    -- Attempts started since the last reset (an admin's retry resets it).
    attempts      INTEGER NOT NULL DEFAULT 0,
    -- processing: being tried (or died while tried); done: handled;
    -- dead: set aside as 処理不能.
    state         TEXT    NOT NULL CHECK (state IN ('processing', 'done', 'dead')),
    -- Why the last attempt failed, or why the message was set aside: a
    -- code (permanent, repeated_failure, interrupted) and the error text.
    reason_code   TEXT    NOT NULL DEFAULT '',
    last_error    TEXT    NOT NULL DEFAULT '',
    first_at      TEXT    NOT NULL,
    last_at       TEXT    NOT NULL,
    dead_at       TEXT,
    retried_at    TEXT,
    retried_by    TEXT
);

CREATE INDEX intake_attempts_state ON intake_attempts (state, dead_at);
