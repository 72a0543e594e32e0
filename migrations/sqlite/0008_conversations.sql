-- Issue 12, points 3 and 4: conversations (mail answering ours), password
-- notices, and why a mail was not answered.
-- The PostgreSQL twin is migrations/postgres/0008_conversations.sql; keep them in
-- step.

-- Why a mail got no reply, or is held: a code the pipeline sets and the web
-- UI words in Japanese (messages::web::unanswered_reason). '' for a mail
-- that was simply answered. Codes: auto_generated, own_reply,
-- auto_forwarded, rate_limited, unusable_address, no_address,
-- unauthenticated_sender, unknown_sender, quarantined (held, but answered
-- 受付保留), correspondence, password_notice.
ALTER TABLE mail_messages ADD COLUMN reason_code TEXT NOT NULL DEFAULT '';

-- Older rows: the code read back from the English note in `reply`.
UPDATE mail_messages SET reason_code = CASE
    WHEN reply LIKE 'not answered: automatic mail (our own reply%' THEN 'own_reply'
    WHEN reply LIKE 'not answered: automatic mail (Auto-Submitted: auto-forwarded%' THEN 'auto_forwarded'
    WHEN reply LIKE 'not answered: automatic mail%' THEN 'auto_generated'
    WHEN reply LIKE 'not answered: rate limit%' THEN 'rate_limited'
    WHEN reply LIKE 'not answered: unusable address%' THEN 'unusable_address'
    WHEN reply LIKE 'not answered: no sender address%' THEN 'no_address'
    WHEN reply LIKE 'not answered: registered sender not authenticated%' THEN 'unauthenticated_sender'
    WHEN reply LIKE 'not answered: unknown sender not authenticated%' THEN 'unknown_sender'
    WHEN disposition = 'quarantined' THEN 'quarantined'
    WHEN reply <> 'queued' AND reply <> '' THEN 'auto_generated'
    ELSE '' END;

-- The 無視・保留したメール page lists these newest first.
CREATE INDEX mail_messages_reason ON mail_messages (reason_code, received_at);
-- A password notice looks for the same sender's refused mail just before.
CREATE INDEX mail_messages_sender_time ON mail_messages (lower(from_address), received_at);
-- A reply names our Message-ID in In-Reply-To / References.
CREATE INDEX outbox_message_id ON outbox (message_id);

-- Mail that answers ours without a sheet (kind 'reply') or announces the
-- password of a refused file (kind 'password_notice'): no automatic answer,
-- kept for staff to read. Body text is plain text (HTML converted); a
-- password notice keeps no body (the password stays in the raw mail only).
CREATE TABLE correspondence (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    mail_message_id INTEGER NOT NULL UNIQUE REFERENCES mail_messages (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('reply', 'password_notice')),
    received_at     TEXT    NOT NULL,
    from_address    TEXT    NOT NULL DEFAULT '',
    from_name       TEXT    NOT NULL DEFAULT '',
    subject         TEXT    NOT NULL DEFAULT '',
    body            TEXT    NOT NULL DEFAULT '',
    -- For a password notice: the refused mail it belongs to.
    refers_to_mail_message_id INTEGER REFERENCES mail_messages (id),
    -- Set when a staff member marked it read.
    read_at         TEXT,
    read_by         TEXT
);

CREATE INDEX correspondence_unread ON correspondence (read_at, received_at);

-- Which requests a correspondence is about.
CREATE TABLE correspondence_requests (
    correspondence_id INTEGER NOT NULL REFERENCES correspondence (id),
    request_id        INTEGER NOT NULL REFERENCES requests (id),
    PRIMARY KEY (correspondence_id, request_id)
);

CREATE INDEX correspondence_requests_request ON correspondence_requests (request_id);

-- A sheet sent as a reply to one of our mails: the new request and the
-- earlier one it answers (shown on both request pages; supersession itself
-- stays requests.superseded_by).
CREATE TABLE request_links (
    request_id         INTEGER NOT NULL REFERENCES requests (id),
    earlier_request_id INTEGER NOT NULL REFERENCES requests (id),
    mail_message_id    INTEGER REFERENCES mail_messages (id),
    created_at         TEXT    NOT NULL,
    PRIMARY KEY (request_id, earlier_request_id)
);

CREATE INDEX request_links_earlier ON request_links (earlier_request_id);
