-- Senders are authenticated, not just named (issue 11, point 5).
-- The SQLite twin is migrations/sqlite/0006_sender_auth.sql; keep them
-- in step. (0005 belongs to another change.)

-- Why the sender of a filed sheet was trusted: 'authenticated' (our MTA's
-- Authentication-Results vouched for the From domain), 'vouched' (an admin
-- released the mail from quarantine, or staff filed it by hand) or
-- 'unchecked' (sender_auth = "off": the directory alone decided). Only
-- authenticated and vouched sheets of the same prefecture supersede one
-- another. Rows filed before this migration were never checked.
ALTER TABLE requests ADD COLUMN sender_auth TEXT NOT NULL DEFAULT 'unchecked'
    CHECK (sender_auth IN ('authenticated', 'vouched', 'unchecked'));

-- Why a mail is quarantined: 'unknown_sender' (not in the directory),
-- 'unauthenticated_sender' (a registered prefecture address our MTA did not
-- authenticate) or 'no_address'; and the prefecture a registered address
-- claims, so the release form can offer it.
ALTER TABLE quarantine ADD COLUMN kind TEXT NOT NULL DEFAULT 'unknown_sender'
    CHECK (kind IN ('unknown_sender', 'unauthenticated_sender', 'no_address'));
ALTER TABLE quarantine ADD COLUMN prefecture TEXT;
