//! Deciding a batch quickly (issue 13.4): tick requests in the queue and
//! approve them as the prefecture proposed, in one action. The preview
//! lists, per request, its errors and warnings and what will be decided
//! item by item; confirming decides each item through the same
//! [`queue::set_mhlw_decision`] as the request page (checked and audited
//! one by one, with the staff member's name). A request that cannot be
//! decided (受付完了 meanwhile, superseded) is reported and the others go
//! on.
//!
//! As proposed: 要 with a 総配布枚数 above 0 → 承認 with that quantity and
//! the chosen 送付日; 否 → 不承認 「都道府県の判断（否）のため」; an item
//! already decided, or 要 without a quantity, is left for the request page.

use super::auth::Staff;
use super::guard::form_values;
use super::{AppState, WebError};
use crate::messages::web as msg;
use crate::queue::{self, RequestRecord};
use crate::request::{Item, MhlwDecision, Need, Status};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Html;
use chrono::NaiveDate;
use minijinja::context;
use serde::Serialize;

/// The most requests one action decides (a page of the queue).
const MAX_SELECTED: usize = 50;

/// One item's planned decision.
#[derive(Debug, Serialize)]
struct PlannedItem {
    label: &'static str,
    /// What will happen, in Japanese.
    plan: String,
}

/// One selected request in the preview or the result.
#[derive(Debug, Serialize)]
struct Selected {
    id: i64,
    receipt: String,
    institution: String,
    prefecture: String,
    errors: Vec<String>,
    warnings: Vec<String>,
    items: Vec<PlannedItem>,
    /// After confirming: what went wrong for this request, if anything.
    failure: Option<String>,
}

/// The decisions "as the prefecture proposed" for the undecided requested
/// items of `r` (see the module comment).
pub fn as_proposed(r: &RequestRecord, ship_date: Option<NaiveDate>) -> Vec<(Item, MhlwDecision)> {
    r.requested_lines()
        .filter(|l| l.mhlw.approved.is_none())
        .filter_map(|l| {
            let p = &l.prefecture;
            let decision = match p.need? {
                Need::Needed => MhlwDecision {
                    approved: Some(true),
                    quantity: Some(p.total_quantity.filter(|q| *q > 0)?),
                    ship_date,
                    reason: String::new(),
                },
                Need::NotNeeded => MhlwDecision {
                    approved: Some(false),
                    quantity: None,
                    ship_date: None,
                    reason: msg::refuse_as_prefecture_said().to_string(),
                },
            };
            Some((l.item, decision))
        })
        .collect()
}

fn plan_text(d: &MhlwDecision) -> String {
    match d.approved {
        Some(true) => msg::bulk_approve_line(d.quantity.unwrap_or(0)),
        _ => msg::bulk_refuse_line(&d.reason),
    }
}

fn selected(r: &RequestRecord, ship_date: Option<NaiveDate>) -> Selected {
    let planned = as_proposed(r, ship_date);
    let items = r
        .requested_lines()
        .map(|l| PlannedItem {
            label: l.item.label(),
            plan: planned
                .iter()
                .find(|(i, _)| *i == l.item)
                .map(|(_, d)| plan_text(d))
                .unwrap_or_else(|| msg::bulk_left_alone().to_string()),
        })
        .collect();
    let text = |f: &crate::validation::Finding| {
        use crate::messages::findings::{field, message};
        format!("{}：{}", field(f), message(f))
    };
    Selected {
        id: r.id,
        receipt: r.receipt.clone(),
        institution: r.institution.name.clone(),
        prefecture: r.prefecture.clone(),
        errors: r
            .findings
            .iter()
            .filter(|f| f.is_error())
            .map(text)
            .collect(),
        warnings: r
            .findings
            .iter()
            .filter(|f| !f.is_error())
            .map(text)
            .collect(),
        items,
        failure: None,
    }
}

/// The ids and ship date of the form.
fn read_form(body: &[u8]) -> Result<(Vec<i64>, Option<NaiveDate>), WebError> {
    let mut ids: Vec<i64> = form_values(body, "id")
        .iter()
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(WebError::BadInput(msg::bulk_none_selected().into()));
    }
    if ids.len() > MAX_SELECTED {
        return Err(WebError::BadInput(msg::bulk_too_many(MAX_SELECTED)));
    }
    let ship = form_values(body, "ship_date")
        .into_iter()
        .next()
        .unwrap_or_default();
    let ship_date = match ship.trim() {
        "" => None,
        d => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| WebError::BadInput(msg::bad_date("送付日", d)))?,
        ),
    };
    Ok((ids, ship_date))
}

async fn records(state: &AppState, ids: &[i64]) -> Result<Vec<RequestRecord>, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(queue::get(&mut conn, *id).await?);
    }
    Ok(out)
}

/// POST /queue/approve/preview: what approving the ticked requests as
/// proposed would do, with their errors and warnings.
pub async fn preview(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    body: Bytes,
) -> Result<Html<String>, WebError> {
    let (ids, ship_date) = read_form(&body)?;
    let list: Vec<Selected> = records(&state, &ids)
        .await?
        .iter()
        .map(|r| selected(r, ship_date))
        .collect();
    state.render(
        "bulk.html",
        context! { staff => &staff, nav => "queue", selected => list, ship_date => ship_date.map(|d| d.to_string()), done => false },
    )
}

/// POST /queue/approve: decides every planned item, request by request,
/// each in its own transaction (one failure does not undo the others).
pub async fn approve(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    body: Bytes,
) -> Result<Html<String>, WebError> {
    let (ids, ship_date) = read_form(&body)?;
    if ship_date.is_none() {
        return Err(WebError::BadInput(
            msg::approve_needs_quantity_and_date().into(),
        ));
    }
    let mut list = Vec::with_capacity(ids.len());
    for record in records(&state, &ids).await? {
        let mut view = selected(&record, ship_date);
        if let Err(e) = decide_all(&state, &staff, &record, ship_date).await {
            view.failure = Some(match e {
                WebError::Internal(e) => return Err(WebError::Internal(e)),
                other => other.to_string(),
            });
        }
        list.push(view);
    }
    state.render(
        "bulk.html",
        context! { staff => &staff, nav => "queue", selected => list, ship_date => ship_date.map(|d| d.to_string()), done => true },
    )
}

async fn decide_all(
    state: &AppState,
    staff: &Staff,
    record: &RequestRecord,
    ship_date: Option<NaiveDate>,
) -> Result<(), WebError> {
    if record.status != Status::UnderReview {
        return Err(WebError::Conflict(msg::bulk_not_in_review(
            record.status.as_str(),
        )));
    }
    let mut tx = state.db().begin().await?;
    for (item, decision) in as_proposed(record, ship_date) {
        queue::set_mhlw_decision(
            &mut tx,
            record.id,
            item,
            &decision,
            &staff.name,
            &decision.reason,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
