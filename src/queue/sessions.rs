//! Staff sessions in the database (`web_sessions`): stored under the
//! SHA-256 of their token, never the token itself, with the per-session
//! CSRF token and an expiry. Making tokens and cookies is the web UI's
//! business ([`crate::web::auth`]); this module only keeps the rows.

use super::db::{parse_time, time_text};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// A new session row.
#[derive(Clone, Debug)]
pub struct NewSessionRow<'a> {
    /// SHA-256 (hex) of the cookie's token.
    pub token_sha256: &'a str,
    /// The account signed in.
    pub user_id: i64,
    /// The session's CSRF token.
    pub csrf_token: &'a str,
    /// When it starts.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Stores a new session, and clears the ones expired by its start while at
/// it (nothing else ever clears them).
pub async fn start(conn: &mut AnyConnection, session: &NewSessionRow<'_>) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
        .bind(time_text(session.created_at))
        .execute(&mut *conn)
        .await
        .context("cannot clear expired sessions")?;
    sqlx::query(
        "INSERT INTO web_sessions (token_sha256, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(session.token_sha256)
    .bind(session.user_id)
    .bind(session.csrf_token)
    .bind(time_text(session.created_at))
    .bind(time_text(session.expires_at))
    .execute(&mut *conn)
    .await
    .context("cannot create session")?;
    Ok(())
}

/// A stored session of an enabled account, with what every page needs.
#[derive(Clone, Debug)]
pub struct SessionAccount {
    /// The account's id.
    pub user_id: i64,
    /// Its name.
    pub name: String,
    /// Its stored role word (`reviewer` / `admin`).
    pub role: String,
    /// Signed in with a one-time password not yet replaced.
    pub must_change_password: bool,
    /// The session's CSRF token.
    pub csrf_token: String,
    /// When the session stops working (the caller compares: the row may
    /// have expired and not been cleared yet).
    pub expires_at: DateTime<Utc>,
    /// Correspondence nobody has marked read yet (the nav shows the count).
    pub unread: i64,
}

/// The session stored under `token_sha256`, when it exists and its account
/// is enabled.
pub async fn find(
    conn: &mut AnyConnection,
    token_sha256: &str,
) -> anyhow::Result<Option<SessionAccount>> {
    let row = sqlx::query(
        "SELECT u.id, u.name, u.role, u.must_change_password, s.csrf_token, s.expires_at, \
         (SELECT COUNT(*) FROM correspondence WHERE read_at IS NULL) AS unread FROM web_sessions s \
         JOIN web_users u ON u.id = s.user_id WHERE s.token_sha256 = $1 AND u.disabled = 0",
    )
    .bind(token_sha256)
    .fetch_optional(&mut *conn)
    .await
    .context("cannot look up session")?;
    row.map(|row| {
        Ok(SessionAccount {
            user_id: row.try_get("id")?,
            name: row.try_get("name")?,
            role: row.try_get("role")?,
            must_change_password: row.try_get::<i64, _>("must_change_password")? != 0,
            csrf_token: row.try_get("csrf_token")?,
            expires_at: parse_time(&row.try_get::<String, _>("expires_at")?)?,
            unread: row.try_get("unread")?,
        })
    })
    .transpose()
}

/// Ends the session stored under `token_sha256` (log-out).
pub async fn end(conn: &mut AnyConnection, token_sha256: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM web_sessions WHERE token_sha256 = $1")
        .bind(token_sha256)
        .execute(&mut *conn)
        .await
        .context("cannot end session")?;
    Ok(())
}
