//! Staff accounts as admins manage them in the browser (issue 13.2):
//! list, disable and enable, role, a new password (one-time or the user's
//! own), and the audit list of sign-ins and account changes. Creating an
//! account and checking a password stay in [`crate::web::auth`] (the CLI
//! uses them for the first admin).

use super::audit::{AuditEntry, entry_from_row};
use super::db::now_text;
use anyhow::Context;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// The audit words of sign-ins and account changes.
pub const AUDIT_ACTIONS: [&str; 8] = [
    "signin_succeeded",
    "signin_failed",
    "account_created",
    "account_disabled",
    "account_enabled",
    "account_role_changed",
    "account_password_issued",
    "account_password_changed",
];

/// One account as the accounts page lists it.
#[derive(Clone, Debug, Serialize)]
pub struct Account {
    /// Row id (the routes name accounts by it: names are free text).
    pub id: i64,
    /// Name.
    pub name: String,
    /// `reviewer` or `admin`.
    pub role: String,
    /// Cannot sign in.
    pub disabled: bool,
    /// Signed in with a one-time password not yet replaced.
    pub must_change_password: bool,
    /// When created (stored text).
    pub created_at: String,
}

/// Every account, by name.
pub async fn list(conn: &mut AnyConnection) -> anyhow::Result<Vec<Account>> {
    let rows = sqlx::query(
        "SELECT id, name, role, disabled, must_change_password, created_at FROM web_users ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .context("cannot list accounts")?;
    rows.iter().map(account_from_row).collect()
}

/// One account by id.
pub async fn get(conn: &mut AnyConnection, id: i64) -> anyhow::Result<Option<Account>> {
    let row = sqlx::query(
        "SELECT id, name, role, disabled, must_change_password, created_at FROM web_users WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .context("cannot read the account")?;
    row.as_ref().map(account_from_row).transpose()
}

fn account_from_row(r: &sqlx::any::AnyRow) -> anyhow::Result<Account> {
    Ok(Account {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
        must_change_password: r.try_get::<i64, _>("must_change_password")? != 0,
        created_at: r.try_get("created_at")?,
    })
}

/// Disables or enables an account; disabling ends its sessions at once.
pub async fn set_disabled(conn: &mut AnyConnection, id: i64, disabled: bool) -> anyhow::Result<()> {
    sqlx::query("UPDATE web_users SET disabled = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(disabled))
        .bind(now_text())
        .bind(id)
        .execute(&mut *conn)
        .await
        .context("cannot change the account")?;
    if disabled {
        end_sessions(conn, id, None).await?;
    }
    Ok(())
}

/// Sets an account's role (`reviewer` / `admin`); its sessions end so the
/// new role applies from the next sign-in.
pub async fn set_role(conn: &mut AnyConnection, id: i64, role: &str) -> anyhow::Result<()> {
    sqlx::query("UPDATE web_users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role)
        .bind(now_text())
        .bind(id)
        .execute(&mut *conn)
        .await
        .context("cannot change the role")?;
    end_sessions(conn, id, None).await
}

/// Stores a new password hash. `one_time`: an admin issued it and the user
/// must choose their own at the next sign-in. Every session ends except
/// `keep_session` (the user's own, when they changed it themselves).
pub async fn set_password(
    conn: &mut AnyConnection,
    id: i64,
    phc: &str,
    one_time: bool,
    keep_session: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE web_users SET password_hash = $1, must_change_password = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(phc)
    .bind(i64::from(one_time))
    .bind(now_text())
    .bind(id)
    .execute(&mut *conn)
    .await
    .context("cannot store the password")?;
    end_sessions(conn, id, keep_session).await
}

/// The stored password hash of an account.
pub async fn password_hash(conn: &mut AnyConnection, id: i64) -> anyhow::Result<Option<String>> {
    let row = sqlx::query("SELECT password_hash FROM web_users WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .context("cannot read the password hash")?;
    row.map(|r| r.try_get("password_hash").map_err(Into::into))
        .transpose()
}

/// Ends an account's sessions, all but the one stored under
/// `keep_digest` (a token's SHA-256) when given.
async fn end_sessions(
    conn: &mut AnyConnection,
    id: i64,
    keep_digest: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM web_sessions WHERE user_id = $1 AND token_sha256 <> $2")
        .bind(id)
        .bind(keep_digest.unwrap_or(""))
        .execute(&mut *conn)
        .await
        .context("cannot end the account's sessions")?;
    Ok(())
}

/// The latest `limit` sign-ins, failures and account changes, newest first.
pub async fn audit_list(conn: &mut AnyConnection, limit: i64) -> anyhow::Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT id, request_id, at, actor, action, detail, reason FROM audit_log \
         WHERE action IN ($1, $2, $3, $4, $5, $6, $7, $8) ORDER BY id DESC LIMIT $9",
    )
    .bind(AUDIT_ACTIONS[0])
    .bind(AUDIT_ACTIONS[1])
    .bind(AUDIT_ACTIONS[2])
    .bind(AUDIT_ACTIONS[3])
    .bind(AUDIT_ACTIONS[4])
    .bind(AUDIT_ACTIONS[5])
    .bind(AUDIT_ACTIONS[6])
    .bind(AUDIT_ACTIONS[7])
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .context("cannot read the account history")?;
    rows.iter().map(entry_from_row).collect()
}
