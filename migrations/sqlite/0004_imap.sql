-- The IMAP source (issue 5): where each watched mailbox was read up to, the
-- folder moves still owed, and the lease that lets exactly one gateway watch
-- a mailbox at a time. Owner: IMAP (engineer H).
-- The PostgreSQL twin is migrations/postgres/0004_imap.sql; keep them in step.
-- Same conventions as 0001_queue.sql (UTC text times, INTEGER numbers).

-- One row per watched mailbox (key `user@host:port/mailbox`): every message
-- with a UID up to last_uid under this UIDVALIDITY has been handled (its
-- pipeline transaction committed). A new UIDVALIDITY restarts at 0 and the
-- pipeline's Message-ID + SHA-256 key keeps the rescan from filing twice.
CREATE TABLE imap_checkpoints (
    mailbox     TEXT    PRIMARY KEY,
    uidvalidity INTEGER NOT NULL,
    last_uid    INTEGER NOT NULL,
    updated_at  TEXT    NOT NULL
);

-- Handled messages not yet moved to their folder (the move failed or the
-- connection dropped before it). Retried on the next connection; never a
-- reason to handle the message again.
CREATE TABLE imap_pending_moves (
    mailbox     TEXT    NOT NULL,
    uidvalidity INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    folder      TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT    NOT NULL,
    PRIMARY KEY (mailbox, uidvalidity, uid)
);

-- Who watches a mailbox. A holder renews expires_at_ms (milliseconds since
-- the epoch, by the database's clock so gateways on several machines agree)
-- every few seconds; anyone may take an expired lease.
CREATE TABLE imap_leases (
    name          TEXT    PRIMARY KEY,
    holder        TEXT    NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    acquired_at   TEXT    NOT NULL
);
