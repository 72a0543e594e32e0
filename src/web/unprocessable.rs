//! 処理不能メール: messages the pipeline set aside (poison messages). Staff
//! see what reached the mailbox and why it could not be processed, and can
//! download the raw message; an admin can try one again (after a fix, or
//! once a passing fault is gone). The list and the retry are stored by
//! [`crate::queue::attempts`].

use super::auth::Staff;
use super::queue_page::jst;
use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::pipeline::{Disposition, Intake};
use crate::queue::db::parse_time;
use crate::queue::{attempts, audit, blobs};
use anyhow::Context;
use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::context;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Row {
    sha256: String,
    received_at: String,
    dead_at: String,
    from_address: String,
    subject: String,
    source: String,
    reason: String,
    last_error: String,
}

/// GET /unprocessable: every message set aside, newest first.
pub async fn list(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Query(q): Query<super::admin::NoticeQuery>,
) -> Result<Html<String>, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let letters = attempts::dead_letters(&mut conn, 500).await?;
    let rows = letters
        .into_iter()
        .map(|d| {
            Ok(Row {
                received_at: jst(parse_time(&d.received_at)?),
                dead_at: match parse_time(&d.dead_at) {
                    Ok(t) => jst(t),
                    Err(_) => String::new(),
                },
                reason: msg::set_aside_reason(d.reason, d.attempts),
                source: msg::source_label(&d.source).to_string(),
                sha256: d.raw_sha256,
                from_address: d.from_address,
                subject: d.subject,
                last_error: d.last_error,
            })
        })
        .collect::<Result<Vec<_>, WebError>>()?;
    state.render(
        "unprocessable.html",
        context! {
            staff => &staff,
            nav => "unprocessable",
            notice => q.notice.as_deref().and_then(msg::notice),
            rows => rows,
        },
    )
}

/// GET /unprocessable/{sha}/raw: the message as received (.eml).
pub async fn raw(
    State(state): State<AppState>,
    Path(sha): Path<String>,
) -> Result<Response, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    attempts::dead_letter_of(&mut conn, &sha)
        .await?
        .ok_or_else(WebError::not_found)?;
    let bytes = blobs::get(&mut conn, &sha)
        .await?
        .ok_or_else(WebError::not_found)?;
    let name = format!("unprocessable-{}.eml", &sha[..sha.len().min(12)]);
    Ok((
        [
            (header::CONTENT_TYPE, "message/rfc822".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// POST /admin/unprocessable/{sha}/retry: processes the message again, from
/// its stored bytes and with its original receipt time, with the attempts
/// counted from zero. Filed, answered or set aside again as the pipeline
/// decides.
pub async fn retry(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(sha): Path<String>,
) -> Result<Response, WebError> {
    let db = state.db();
    let mut conn = db.pool().acquire().await?;
    let raw = blobs::get(&mut conn, &sha)
        .await?
        .ok_or_else(WebError::not_found)?;
    let received_at = attempts::reset_for_retry(&mut conn, &sha, &staff.name)
        .await?
        .ok_or_else(WebError::not_found)?;
    let received_at = parse_time(&received_at)?.fixed_offset();
    drop(conn);
    let intake = Intake::new(db.clone(), state.settings())?.with_source("retry");
    let outcome = intake
        .process(&raw, received_at)
        .await
        .with_context(|| format!("retrying the unprocessable message {sha}"))?;
    let mut tx = db.begin().await?;
    let detail = serde_json::json!({
        "raw_sha256": sha,
        "disposition": outcome.disposition.as_str(),
        "receipts": outcome.receipts,
    });
    audit::record(
        &mut tx,
        None,
        &staff.name,
        "unprocessable_retried",
        &detail,
        "",
    )
    .await?;
    tx.commit().await?;
    let notice = if outcome.disposition == Disposition::Unprocessable {
        "retry_failed"
    } else {
        "retried"
    };
    Ok(Redirect::to(&format!("/unprocessable?notice={notice}")).into_response())
}
