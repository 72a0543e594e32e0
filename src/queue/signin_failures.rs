//! The counts of wrong passwords per subject (an account name typed or a
//! client address), in `web_signin_failures`, shared by every gateway on
//! the database so a lock holds everywhere and across restarts. The rules
//! (which subjects, how many failures lead to which wait or lock) are the
//! web UI's ([`crate::web::signin`]); this module only keeps the rows.

use super::db::{parse_time, time_text};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, Row};

/// A subject blocked now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectBlock {
    /// The subject's key (`account:…` / `address:…`).
    pub subject: String,
    /// Until when it is blocked.
    pub blocked_until: DateTime<Utc>,
    /// A lock rather than a wait.
    pub locked: bool,
}

/// The blocks of `account` and `address` still running at `now`.
pub async fn blocks(
    conn: &mut AnyConnection,
    account: &str,
    address: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<SubjectBlock>> {
    let rows = sqlx::query(
        "SELECT subject, blocked_until, locked FROM web_signin_failures \
         WHERE (subject = $1 OR subject = $2) AND blocked_until > $3",
    )
    .bind(account)
    .bind(address)
    .bind(time_text(now))
    .fetch_all(&mut *conn)
    .await
    .context("cannot read sign-in failures")?;
    let mut blocks = Vec::with_capacity(rows.len());
    for row in rows {
        let until: Option<String> = row.try_get("blocked_until")?;
        let Some(until) = until else { continue };
        blocks.push(SubjectBlock {
            subject: row.try_get("subject")?,
            blocked_until: parse_time(&until)?,
            locked: row.try_get::<i64, _>("locked")? != 0,
        });
    }
    Ok(blocks)
}

/// Counts one failure of `subject` at `now` and returns its failures so
/// far; a count last added to before `forget_before` starts again at 1.
/// One upsert, so concurrent failures add up.
pub async fn count(
    conn: &mut AnyConnection,
    subject: &str,
    now: DateTime<Utc>,
    forget_before: DateTime<Utc>,
) -> anyhow::Result<u32> {
    let row = sqlx::query(
        "INSERT INTO web_signin_failures (subject, failures, last_failure_at, blocked_until, locked) \
         VALUES ($1, 1, $2, NULL, 0) \
         ON CONFLICT (subject) DO UPDATE SET \
         failures = CASE WHEN web_signin_failures.last_failure_at < $3 THEN 1 \
                    ELSE web_signin_failures.failures + 1 END, \
         last_failure_at = $2 \
         RETURNING failures",
    )
    .bind(subject)
    .bind(time_text(now))
    .bind(time_text(forget_before))
    .fetch_one(&mut *conn)
    .await
    .context("cannot count a sign-in failure")?;
    Ok(u32::try_from(row.try_get::<i64, _>(0)?).unwrap_or(u32::MAX))
}

/// Sets the block on `subject`: until `until` (`None`: no block), a lock
/// or a wait.
pub async fn set_block(
    conn: &mut AnyConnection,
    subject: &str,
    until: Option<DateTime<Utc>>,
    locked: bool,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE web_signin_failures SET blocked_until = $1, locked = $2 WHERE subject = $3",
    )
    .bind(until.map(time_text))
    .bind(i64::from(locked))
    .bind(subject)
    .execute(&mut *conn)
    .await
    .context("cannot block after a sign-in failure")?;
    Ok(())
}

/// Forgets the count of `subject`.
pub async fn clear(conn: &mut AnyConnection, subject: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM web_signin_failures WHERE subject = $1")
        .bind(subject)
        .execute(&mut *conn)
        .await
        .context("cannot clear sign-in failures")?;
    Ok(())
}

/// Drops counts last added to before `forget_before` that block nothing at
/// `now` any more, so guessed names do not pile up.
pub async fn forget_old(
    conn: &mut AnyConnection,
    forget_before: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    sqlx::query(
        "DELETE FROM web_signin_failures WHERE last_failure_at < $1 \
         AND (blocked_until IS NULL OR blocked_until < $2)",
    )
    .bind(time_text(forget_before))
    .bind(time_text(now))
    .execute(&mut *conn)
    .await
    .context("cannot forget old sign-in failures")?;
    Ok(())
}
