//! Helpers shared by the integration tests: fresh databases, real mail
//! servers on loopback, headless Chromium. Each test binary uses a part.
#![allow(dead_code)]

/// Fresh queue databases (SQLite, PostgreSQL) and `both_backends!`.
pub mod db;

/// The web UI on a free port, an HTTP client, headless Chromium.
pub mod browser;

/// Dovecot (IMAP, LMTP, auth) and Postfix (SMTP) on loopback.
pub mod maillab;
