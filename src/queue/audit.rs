//! The audit history: one append-only row per change to the queue — who,
//! when, what and why. The database refuses to update or delete these rows.

use super::db::{now_text, parse_time};
use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row};

/// What happened to a record. Stored as the [`Action::as_str`] word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A sheet was filed (a new record).
    Filed,
    /// A newer sheet for the same institution, item and batch replaced it.
    Superseded,
    /// A sheet was refused because the same institution and item were
    /// already 受付完了 in the batch.
    RefusedCompleted,
    /// A G-MIS request was imported (a new record).
    GmisImported,
    /// A later G-MIS export changed the record.
    GmisUpdated,
    /// MHLW decided an item (approve / refuse, quantity, ship date).
    Decided,
    /// The record became 受付完了.
    Completed,
    /// The record was moved to another batch date.
    BatchMoved,
    /// Anything another module records (mail, web); see the detail.
    Other,
}

impl Action {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Filed => "filed",
            Action::Superseded => "superseded",
            Action::RefusedCompleted => "refused_completed",
            Action::GmisImported => "gmis_imported",
            Action::GmisUpdated => "gmis_updated",
            Action::Decided => "decided",
            Action::Completed => "completed",
            Action::BatchMoved => "batch_moved",
            Action::Other => "other",
        }
    }
}

/// One row of the history, as read back.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// The record concerned, when there is one.
    pub request_id: Option<i64>,
    /// When (server time).
    pub at: DateTime<Utc>,
    /// Who: a staff user name, `system`, `mail`, `cli:<user>`…
    pub actor: String,
    /// What, as the [`Action::as_str`] word (other modules may add words).
    pub action: String,
    /// What changed, as JSON (e.g. `{"from": …, "to": …}`).
    pub detail: serde_json::Value,
    /// Why, as the person gave it (empty when not asked).
    pub reason: String,
}

/// Appends one history row. `action` is normally [`Action::as_str`]; other
/// modules may use their own words (e.g. `quarantine_released`).
pub async fn record(
    conn: &mut AnyConnection,
    request_id: Option<i64>,
    actor: &str,
    action: &str,
    detail: &serde_json::Value,
    reason: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (request_id, at, actor, action, detail, reason) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(request_id)
    .bind(now_text())
    .bind(actor)
    .bind(action)
    .bind(detail.to_string())
    .bind(reason)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("cannot write audit row {action} for request {request_id:?}"))?;
    Ok(())
}

/// The history of one record, oldest first.
pub async fn history(conn: &mut AnyConnection, request_id: i64) -> anyhow::Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT id, request_id, at, actor, action, detail, reason FROM audit_log \
         WHERE request_id = $1 ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("cannot read the history of request {request_id}"))?;
    rows.iter().map(entry_from_row).collect()
}

/// The latest `limit` history rows of the whole queue, newest first.
pub async fn recent(conn: &mut AnyConnection, limit: i64) -> anyhow::Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT id, request_id, at, actor, action, detail, reason FROM audit_log ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .context("cannot read the audit history")?;
    rows.iter().map(entry_from_row).collect()
}

/// The latest `limit` history rows with `action`, newest first (e.g. the
/// G-MIS files imported in the browser).
pub async fn recent_of(
    conn: &mut AnyConnection,
    action: &str,
    limit: i64,
) -> anyhow::Result<Vec<AuditEntry>> {
    let rows = sqlx::query(
        "SELECT id, request_id, at, actor, action, detail, reason FROM audit_log \
         WHERE action = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(action)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("cannot read the {action} history"))?;
    rows.iter().map(entry_from_row).collect()
}

pub(crate) fn entry_from_row(row: &sqlx::any::AnyRow) -> anyhow::Result<AuditEntry> {
    let detail: String = row.try_get("detail")?;
    Ok(AuditEntry {
        id: row.try_get("id")?,
        request_id: row.try_get("request_id")?,
        at: parse_time(&row.try_get::<String, _>("at")?)?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
        reason: row.try_get("reason")?,
    })
}
