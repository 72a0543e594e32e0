//! The mail side of the desk: the outbox page (failed replies and 内示 with
//! a resend button) and, for admins, the quarantined mail from unknown
//! senders (release = process it now as if the sender were known;
//! authorise = also remember the address for its prefecture).

use super::auth::Staff;
use super::queue_page::jst;
use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::queue::db::now_text;
use crate::queue::outbox::{self, Entry, Shelf};
use crate::queue::{audit, quarantine as held};
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

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
    let failed = outbox::list_shelf(&mut conn, Shelf::Failed, 500).await?;
    let recent = outbox::list_shelf(&mut conn, Shelf::NotFailed, 50).await?;
    let read = |entries: Vec<Entry>| -> Vec<OutboxRow> {
        entries
            .into_iter()
            .map(|e| OutboxRow {
                id: e.id,
                kind: msg::outbox_kind(&e.kind).to_string(),
                recipient: e.recipient,
                subject: e.subject,
                status: msg::outbox_status(e.status).to_string(),
                attempts: e.attempts,
                last_response: e.last_response,
                created_at: jst(e.created_at),
            })
            .collect()
    };
    state.render(
        "outbox.html",
        context! {
            staff => &staff,
            nav => "outbox",
            notice => q.notice.as_deref().and_then(msg::notice),
            failed => read(failed),
            recent => read(recent),
        },
    )
}

/// POST /outbox/{id}/resend: puts a failed mail back in the queue for an
/// immediate attempt, with a fresh retry period.
pub async fn resend(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let mut tx = state.db().begin().await?;
    if !outbox::requeue_failed(&mut tx, id, &now_text()).await? {
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
    let rows: Vec<QuarantineRow> = held::held(&mut conn, 500)
        .await?
        .into_iter()
        .map(|h| QuarantineRow {
            id: h.mail_message_id,
            from_address: h.from_address,
            subject: h.subject,
            reason: h.reason,
            kind_label: msg::quarantine_kind(&h.kind),
            kind: h.kind,
            prefecture: h.prefecture,
            received_at: jst(h.received_at),
        })
        .collect();
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
