//! Conversations in the review desk (issue 12, points 3 and 4): the list of
//! correspondence (連絡: mail answering ours, password notices) with its
//! unread count and the mark-read action, the 無視・保留したメール list of
//! every mail that was not answered or is held, with its reason, and the
//! raw download of such a mail. Storage is [`crate::queue::conversation`].

use super::auth::Staff;
use super::queue_page::jst;
use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::queue::blobs;
use crate::queue::conversation::{self as store, Correspondence, RequestRef};
use crate::queue::db::parse_time;
use crate::unanswered::Reason;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::{Deserialize, Serialize};

/// Rows per page of both lists.
pub const PAGE_SIZE: i64 = 50;

/// Query of the correspondence list.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// `all` lists read items too; anything else only unread ones.
    #[serde(default)]
    pub view: String,
    /// 1-based page.
    #[serde(default)]
    pub page: Option<i64>,
    /// Notice code after an action.
    #[serde(default)]
    pub notice: Option<String>,
}

/// One correspondence as the pages show it.
#[derive(Debug, Serialize)]
pub struct CorrespondenceView {
    id: i64,
    mail_message_id: i64,
    kind: &'static str,
    password_notice: bool,
    received_at: String,
    from_address: String,
    from_name: String,
    subject: String,
    body: String,
    read: bool,
    read_at: String,
    read_by: String,
    /// For a password notice: the refused mail (`mail_messages.id`).
    refers_to: Option<i64>,
    requests: Vec<RequestRef>,
}

impl CorrespondenceView {
    /// The view of one stored item.
    pub fn of(c: Correspondence) -> CorrespondenceView {
        let password_notice = c.kind == "password_notice";
        CorrespondenceView {
            id: c.id,
            mail_message_id: c.mail_message_id,
            kind: msg::correspondence_kind(&c.kind),
            password_notice,
            received_at: time(&c.received_at),
            from_address: c.from_address,
            from_name: c.from_name,
            subject: c.subject,
            body: if password_notice {
                msg::password_notice_body().to_string()
            } else {
                c.body
            },
            read: c.read_at.is_some(),
            read_at: c.read_at.as_deref().map(time).unwrap_or_default(),
            read_by: c.read_by.unwrap_or_default(),
            refers_to: c.refers_to,
            requests: c.requests,
        }
    }
}

/// A stored UTC time in JST, or the text as stored when unreadable.
fn time(stored: &str) -> String {
    parse_time(stored)
        .map(jst)
        .unwrap_or_else(|_| stored.to_string())
}

fn page_of(page: Option<i64>) -> i64 {
    page.unwrap_or(1).clamp(1, 1_000_000)
}

/// GET /correspondence: unread correspondence, newest first (`?view=all`:
/// read ones too), paginated.
pub async fn list(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, WebError> {
    let all = q.view == "all";
    let page = page_of(q.page);
    let mut conn = state.db().pool().acquire().await?;
    let (items, total) = store::list(&mut conn, !all, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
    let rows: Vec<CorrespondenceView> = items.into_iter().map(CorrespondenceView::of).collect();
    state.render(
        "correspondence.html",
        context! {
            staff => &staff,
            nav => "correspondence",
            notice => q.notice.as_deref().and_then(msg::notice),
            rows => rows,
            all => all,
            total => total,
            page => page,
            pages => (total + PAGE_SIZE - 1) / PAGE_SIZE,
        },
    )
}

/// The mark-read form.
#[derive(Debug, Deserialize)]
pub struct ReadForm {
    /// Where to go back to: the request page it was marked on, or the list.
    #[serde(default)]
    pub next: String,
}

/// POST /correspondence/{id}/read: marks it read (audited on each request
/// it is about) and goes back.
pub async fn mark_read(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<ReadForm>,
) -> Result<Response, WebError> {
    let mut tx = state.db().begin().await?;
    let exists = store::correspondence_raw(&mut tx, id).await?.is_some();
    if !exists {
        return Err(WebError::not_found());
    }
    let changed = store::mark_read(&mut tx, id, &staff.name).await?;
    tx.commit().await?;
    let notice = if changed {
        "marked_read"
    } else {
        "already_read"
    };
    Ok(Redirect::to(&format!("{}notice={notice}", back_to(&form.next))).into_response())
}

/// A local path to go back to, with `?` or `&` ready for a query: only a
/// request page or the correspondence list (never another site).
fn back_to(next: &str) -> String {
    let request_page = next
        .strip_prefix("/requests/")
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
    if request_page {
        format!("{next}?")
    } else if next == "/correspondence?view=all" {
        format!("{next}&")
    } else {
        "/correspondence?".to_string()
    }
}

/// Query of the 無視・保留したメール page.
#[derive(Debug, Default, Deserialize)]
pub struct UnansweredQuery {
    /// A reason code to show only; empty for all.
    #[serde(default)]
    pub reason: String,
    /// 1-based page.
    #[serde(default)]
    pub page: Option<i64>,
}

#[derive(Debug, Serialize)]
struct UnansweredRow {
    mail_message_id: Option<i64>,
    raw_sha256: String,
    received_at: String,
    from_address: String,
    subject: String,
    reason_code: String,
    reason: &'static str,
    released: bool,
    requests: Vec<RequestRef>,
}

#[derive(Debug, Serialize)]
struct ReasonOption {
    code: &'static str,
    label: &'static str,
}

/// GET /unanswered: every mail that was not answered or is held, newest
/// first, with its reason in Japanese; filter by reason; paginated.
pub async fn unanswered(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<UnansweredQuery>,
) -> Result<Html<String>, WebError> {
    let reason = Reason::parse(&q.reason);
    let page = page_of(q.page);
    let mut conn = state.db().pool().acquire().await?;
    let (items, total) = store::unanswered(
        &mut conn,
        reason.map(Reason::as_str),
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    .await?;
    let mut rows = Vec::with_capacity(items.len());
    for u in items {
        let requests = store::ids_of_receipts(&mut conn, &u.receipts).await?;
        rows.push(UnansweredRow {
            reason: Reason::parse(&u.reason_code)
                .map(msg::unanswered_reason)
                .unwrap_or(""),
            mail_message_id: u.mail_message_id,
            received_at: time(&u.received_at),
            raw_sha256: u.raw_sha256,
            from_address: u.from_address,
            subject: u.subject,
            reason_code: u.reason_code,
            released: u.released_at.is_some(),
            requests,
        });
    }
    let reasons: Vec<ReasonOption> = Reason::ALL
        .into_iter()
        .map(|r| ReasonOption {
            code: r.as_str(),
            label: msg::unanswered_label(r),
        })
        .collect();
    state.render(
        "unanswered.html",
        context! {
            staff => &staff,
            nav => "unanswered",
            rows => rows,
            reasons => reasons,
            reason => reason.map(Reason::as_str).unwrap_or(""),
            total => total,
            page => page,
            pages => (total + PAGE_SIZE - 1) / PAGE_SIZE,
        },
    )
}

/// GET /mail/{id}/files/raw: a received mail as it arrived (.eml). Mail
/// held for an unknown or unauthenticated sender is for admins only, as on
/// the quarantine page.
pub async fn raw(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let (sha, reason) = store::mail_raw(&mut conn, id)
        .await?
        .ok_or_else(WebError::not_found)?;
    let held = matches!(
        Reason::parse(&reason),
        Some(Reason::UnknownSender | Reason::UnauthenticatedSender | Reason::Quarantined)
    );
    if held && !staff.is_admin() {
        return Err(WebError::Forbidden(msg::admin_only().into()));
    }
    let bytes = blobs::get(&mut conn, &sha)
        .await?
        .ok_or_else(WebError::not_found)?;
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"mail-{id}.eml\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
