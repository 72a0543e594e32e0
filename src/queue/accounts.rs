//! Staff accounts as admins manage them in the browser (issue 13.2):
//! list, disable and enable, role, a new password (one-time or the user's
//! own), and the audit list of sign-ins and account changes; also the rows
//! behind creating an account and checking a password, whose rules and
//! hashing stay in [`crate::web::auth`] (the CLI uses them for the first
//! admin).

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

/// Creates account `name` with `role` and password hash `phc` or, when the
/// name exists, sets that role and hash, enables it again, drops the
/// one-time flag and ends its sessions (the CLI is the way back in for a
/// locked-out admin: the account works again and the password is theirs).
/// Returns true when the account was new.
pub async fn upsert(
    conn: &mut AnyConnection,
    name: &str,
    role: &str,
    phc: &str,
) -> anyhow::Result<bool> {
    let now = now_text();
    let existing = sqlx::query("SELECT id FROM web_users WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *conn)
        .await
        .context("cannot look up user")?;
    if let Some(row) = existing {
        let id: i64 = row.try_get("id")?;
        sqlx::query(
            "UPDATE web_users SET role = $1, password_hash = $2, updated_at = $3, \
             disabled = 0, must_change_password = 0 WHERE id = $4",
        )
        .bind(role)
        .bind(phc)
        .bind(&now)
        .bind(id)
        .execute(&mut *conn)
        .await
        .context("cannot update user")?;
        // A new password ends every session of the old one.
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .context("cannot end the user's sessions")?;
        Ok(false)
    } else {
        sqlx::query(
            "INSERT INTO web_users (name, role, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(name)
        .bind(role)
        .bind(phc)
        .bind(&now)
        .bind(&now)
        .execute(&mut *conn)
        .await
        .context("cannot create user")?;
        Ok(true)
    }
}

/// Removes account `name` and its sessions. Returns false when unknown.
pub async fn remove_by_name(conn: &mut AnyConnection, name: &str) -> anyhow::Result<bool> {
    sqlx::query(
        "DELETE FROM web_sessions WHERE user_id IN (SELECT id FROM web_users WHERE name = $1)",
    )
    .bind(name)
    .execute(&mut *conn)
    .await
    .context("cannot end the user's sessions")?;
    let done = sqlx::query("DELETE FROM web_users WHERE name = $1")
        .bind(name)
        .execute(&mut *conn)
        .await
        .context("cannot remove user")?;
    Ok(done.rows_affected() > 0)
}

/// What a password is checked against at sign-in.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The account's id.
    pub id: i64,
    /// Its argon2 PHC string.
    pub password_hash: String,
}

/// The credentials of the enabled account `name`; `None` for an unknown or
/// disabled one (the caller checks both alike, so that neither tells).
pub async fn enabled_credentials(
    conn: &mut AnyConnection,
    name: &str,
) -> anyhow::Result<Option<Credentials>> {
    let row =
        sqlx::query("SELECT id, password_hash FROM web_users WHERE name = $1 AND disabled = 0")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await
            .context("cannot look up user")?;
    row.map(|row| {
        Ok(Credentials {
            id: row.try_get("id")?,
            password_hash: row.try_get("password_hash")?,
        })
    })
    .transpose()
}
