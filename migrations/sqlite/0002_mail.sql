-- Mail intake (issue 4): every message handled, the quarantine list, and the
-- outbox of replies. Owner: mail intake (engineer F).
-- The PostgreSQL twin is migrations/postgres/0002_mail.sql; keep them in step.
-- Same conventions as 0001_queue.sql (UTC text times, INTEGER flags).

-- One row per message handled. The UNIQUE key is what makes processing the
-- same message twice (a crash before the Maildir move, a re-delivery, an IMAP
-- rescan) change nothing: the second transaction finds the row and stops.
CREATE TABLE mail_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The Message-ID header without angle brackets; '' when absent.
    message_id    TEXT    NOT NULL,
    -- SHA-256 of the raw bytes, stored in blobs before processing.
    raw_sha256    TEXT    NOT NULL REFERENCES blobs (sha256),
    -- Where it came from: maildir, ingest, imap.
    source        TEXT    NOT NULL,
    -- When the message reached our mailbox (never the Date header).
    received_at   TEXT    NOT NULL,
    processed_at  TEXT    NOT NULL,
    from_address  TEXT    NOT NULL DEFAULT '',
    subject       TEXT    NOT NULL DEFAULT '',
    -- The sender's prefecture from the directory, when known.
    prefecture    TEXT,
    disposition   TEXT    NOT NULL CHECK (disposition IN ('accepted', 'partial', 'rejected', 'quarantined', 'ignored')),
    -- 'queued' when a reply went to the outbox, else why not
    -- (auto_generated, own_reply, rate_limited, unverified_sender, no_address).
    reply         TEXT    NOT NULL DEFAULT '',
    -- Receipt numbers filed from this message, comma-separated.
    receipts      TEXT    NOT NULL DEFAULT '',
    -- JSON: what was found per attachment (for the web UI and debugging).
    summary       TEXT    NOT NULL DEFAULT '{}',
    UNIQUE (message_id, raw_sha256)
);

CREATE INDEX mail_messages_received ON mail_messages (received_at);
CREATE INDEX mail_messages_disposition ON mail_messages (disposition, received_at);

-- Mail from senders not in the prefecture directory: kept, listed, not filed.
CREATE TABLE quarantine (
    mail_message_id INTEGER PRIMARY KEY REFERENCES mail_messages (id),
    from_address    TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    at              TEXT    NOT NULL,
    -- Set by staff when they have dealt with it.
    released_at     TEXT,
    released_by     TEXT
);

-- Outgoing mail (replies, 内示). Sent by outbox::Sender with retries.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- reply, naiji, …
    kind            TEXT    NOT NULL,
    -- The message this answers, when it is a reply.
    mail_message_id INTEGER REFERENCES mail_messages (id),
    envelope_from   TEXT    NOT NULL,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL DEFAULT '',
    message_id      TEXT    NOT NULL DEFAULT '',
    -- The complete RFC 5322 message as sent.
    raw             BLOB    NOT NULL,
    status          TEXT    NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_response   TEXT    NOT NULL DEFAULT '',
    -- A sender working on the row, until when (a crashed sender's claim expires).
    claimed_by      TEXT,
    claimed_until   TEXT,
    created_at      TEXT    NOT NULL,
    sent_at         TEXT
);

CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_recipient ON outbox (recipient, kind, created_at);
CREATE INDEX outbox_mail_message ON outbox (mail_message_id);
