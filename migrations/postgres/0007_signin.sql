-- Issue 11, points 7 and 8: sign-in that withstands guessing, and replies
-- sent over SMTP at most twice. The SQLite twin is
-- migrations/sqlite/0007_signin.sql; keep them in step.

-- Wrong passwords, counted per account name typed (whether or not such an
-- account exists, so the counts reveal nothing) and per client address.
-- In the database rather than in memory because several gateways share
-- one PostgreSQL: a lock must hold whichever gateway the next guess
-- reaches, and across restarts.
CREATE TABLE web_signin_failures (
    -- 'account:<name>' or 'address:<ip>'
    subject         TEXT    NOT NULL PRIMARY KEY,
    -- Wrong passwords since the counter last started over.
    failures        BIGINT  NOT NULL,
    last_failure_at TEXT    NOT NULL,
    -- No attempt is checked before this time (a wait or a lock).
    blocked_until   TEXT,
    -- 1 when blocked_until is a lock rather than a growing wait.
    locked          BIGINT  NOT NULL DEFAULT 0
);

CREATE INDEX web_signin_failures_last ON web_signin_failures (last_failure_at);

-- SMTP attempts of a row whose outcome was never recorded (the sender
-- died, or the database was unreachable, between starting the attempt and
-- writing its result). Such an attempt may have been accepted by the relay;
-- after two of them the row is no longer sent automatically, so no reply
-- leaves more than twice.
ALTER TABLE outbox ADD COLUMN unconfirmed BIGINT NOT NULL DEFAULT 0;
