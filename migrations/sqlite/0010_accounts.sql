-- Issue 13, point 2: accounts managed in the browser. The postgres twin is
-- migrations/postgres/0010_accounts.sql; keep them in step.

-- A disabled account cannot sign in and its sessions end; it stays listed
-- (and in the history) so it can be enabled again.
ALTER TABLE web_users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;

-- 1 after an admin issued a one-time password: every page leads to the
-- password change until the user has chosen their own.
ALTER TABLE web_users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
