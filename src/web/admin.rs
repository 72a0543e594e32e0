//! The mail side of the desk: the outbox page (failed replies and 内示 with
//! a resend button) and, for admins, the quarantined mail from unknown
//! senders (release = process it now as if the sender were known;
//! authorise = also remember the address for its prefecture).

use super::auth::Staff;
use super::queue_page::jst;
use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::queue::audit;
use crate::queue::db::{now_text, parse_time};
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Query of the mail pages.
#[derive(Debug, Default, Deserialize)]
pub struct NoticeQuery {
    /// Notice code after an action.
    pub notice: Option<String>,
}

#[derive(Debug, Serialize)]
struct OutboxRow {
    id: i64,
    kind: String,
    recipient: String,
    subject: String,
    status: String,
    attempts: i64,
    last_response: String,
    created_at: String,
}

/// GET /outbox: failed mail first (with a resend button), then the latest.
pub async fn outbox(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let select = "SELECT id, kind, recipient, subject, status, attempts, last_response, created_at FROM outbox";
    let failed = sqlx::query(&format!(
        "{select} WHERE status = 'failed' ORDER BY id DESC LIMIT 500"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let recent = sqlx::query(&format!(
        "{select} WHERE status <> 'failed' ORDER BY id DESC LIMIT 50"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let read = |rows: &[sqlx::any::AnyRow]| -> Result<Vec<OutboxRow>, WebError> {
        rows.iter()
            .map(|r| {
                Ok(OutboxRow {
                    id: r.try_get("id")?,
                    kind: kind_label(&r.try_get::<String, _>("kind")?).to_string(),
                    recipient: r.try_get("recipient")?,
                    subject: r.try_get("subject")?,
                    status: status_label(&r.try_get::<String, _>("status")?).to_string(),
                    attempts: r.try_get("attempts")?,
                    last_response: r.try_get("last_response")?,
                    created_at: jst(parse_time(&r.try_get::<String, _>("created_at")?)?),
                })
            })
            .collect()
    };
    state.render(
        "outbox.html",
        context! {
            staff => &staff,
            nav => "outbox",
            notice => q.notice.as_deref().and_then(msg::notice),
            failed => read(&failed)?,
            recent => read(&recent)?,
        },
    )
}

fn kind_label(kind: &str) -> &str {
    match kind {
        "reply" => "受付返信",
        "naiji" => "内示",
        other => other,
    }
}

fn status_label(status: &str) -> &str {
    match status {
        "queued" => "送信待ち",
        "sent" => "送信済み",
        "failed" => "送信失敗",
        other => other,
    }
}

/// POST /outbox/{id}/resend: puts a failed mail back in the queue for an
/// immediate attempt, with a fresh retry period.
pub async fn resend(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let mut tx = state.db().begin().await?;
    let now = now_text();
    let done = sqlx::query(
        "UPDATE outbox SET status = 'queued', attempts = 0, unconfirmed = 0, next_attempt_at = $1, created_at = $1, \
         claimed_by = NULL, claimed_until = NULL WHERE id = $2 AND status = 'failed'",
    )
    .bind(&now)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(WebError::not_found());
    }
    audit::record(
        &mut tx,
        None,
        &staff.name,
        "outbox_resent",
        &serde_json::json!({ "outbox_id": id }),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to("/outbox?notice=resent").into_response())
}

#[derive(Debug, Serialize)]
struct QuarantineRow {
    id: i64,
    from_address: String,
    subject: String,
    reason: String,
    /// `unknown_sender`, `unauthenticated_sender` or `no_address`.
    kind: String,
    /// The kind in words.
    kind_label: &'static str,
    /// The prefecture a registered address claims (pre-selected).
    prefecture: Option<String>,
    received_at: String,
}

/// GET /admin/quarantine: mail from senders not in the directory, and mail
/// from registered addresses our mail server did not authenticate.
pub async fn quarantine(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<NoticeQuery>,
) -> Result<Html<String>, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let rows = sqlx::query(
        "SELECT q.mail_message_id, q.from_address, q.reason, q.kind, q.prefecture, m.subject, m.received_at FROM quarantine q \
         JOIN mail_messages m ON m.id = q.mail_message_id WHERE q.released_at IS NULL ORDER BY q.at DESC LIMIT 500",
    )
    .fetch_all(&mut *conn)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            Ok(QuarantineRow {
                id: r.try_get("mail_message_id")?,
                from_address: r.try_get("from_address")?,
                subject: r.try_get("subject")?,
                reason: r.try_get("reason")?,
                kind_label: msg::quarantine_kind(&kind),
                kind,
                prefecture: r.try_get("prefecture")?,
                received_at: jst(parse_time(&r.try_get::<String, _>("received_at")?)?),
            })
        })
        .collect::<Result<Vec<_>, WebError>>()?;
    state.render(
        "quarantine.html",
        context! {
            staff => &staff,
            nav => "quarantine",
            notice => q.notice.as_deref().and_then(msg::notice),
            rows => rows,
            prefectures => crate::prefecture::Prefecture::all().map(|p| p.name()).collect::<Vec<_>>(),
        },
    )
}

/// The release and authorise forms: the prefecture the sender speaks for.
#[derive(Debug, Deserialize)]
pub struct ReleaseForm {
    /// Prefecture name.
    #[serde(default)]
    pub prefecture: String,
}

fn prefecture_of(form: &ReleaseForm) -> Result<crate::prefecture::Prefecture, WebError> {
    crate::prefecture::Prefecture::parse(&form.prefecture)
        .ok_or_else(|| WebError::BadInput(msg::bad_prefecture(&form.prefecture)))
}

/// POST /admin/quarantine/{id}/release: process the mail now as if its
/// sender were known for the chosen prefecture (this mail only).
pub async fn release(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<ReleaseForm>,
) -> Result<Response, WebError> {
    let prefecture = prefecture_of(&form)?;
    super::quarantine::release(&state, id, &staff.name, prefecture, false).await?;
    Ok(Redirect::to("/admin/quarantine?notice=released").into_response())
}

/// POST /admin/quarantine/{id}/authorise: remember the sender for the
/// prefecture and process the mail.
pub async fn authorise(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<ReleaseForm>,
) -> Result<Response, WebError> {
    let prefecture = prefecture_of(&form)?;
    super::quarantine::release(&state, id, &staff.name, prefecture, true).await?;
    Ok(Redirect::to("/admin/quarantine?notice=authorised").into_response())
}
