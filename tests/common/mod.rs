//! Helpers shared by the integration tests: fresh databases, real mail
//! servers on loopback, headless Chromium. Each test binary uses a part.
#![allow(dead_code)]

/// Fresh queue databases (SQLite, PostgreSQL) and `both_backends!`.
pub mod db;
