//! The request page and the staff actions on it: MHLW's decision per item,
//! 受付完了 (with the 内示 mail), moving to another batch, and downloading
//! the original mail and sheet.
//!
//! Decisions and 受付完了 go through the queue's own functions, which check
//! the record's state, write the audit row with the staff member's name,
//! and refuse any change to a 受付完了 record.

use super::auth::Staff;
use super::queue_page::{
    QueueContext, QueueQuery, context_of, jst, source_label, todays_batch_now,
};
use super::{AppState, WebError, naiji};
use crate::messages::history;
use crate::messages::web as msg;
use crate::queue::{self, RequestRecord, blobs};
use crate::request::{Item, ItemLine, MhlwDecision, Need, Status};
use crate::validation::Finding;
use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::NaiveDate;
use minijinja::context;
use serde::{Deserialize, Serialize};

/// The institution fields in form order, with the labels findings use.
const INSTITUTION_FIELDS: [&str; 7] = [
    "医療機関名",
    "医療機関コード",
    "郵便番号",
    "都道府県",
    "医療機関住所",
    "連絡先電話番号",
    "医療機関担当者名",
];

#[derive(Debug, Serialize)]
struct FieldView {
    label: &'static str,
    value: String,
    findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
/// One item as the page shows it: every value already text (numbers with
/// thousands separators, empty cells empty, free text as typed), so the
/// template never prints a missing value as `none`.
struct LineView {
    code: &'static str,
    label: &'static str,
    requested: bool,
    stock: String,
    outlook: &'static str,
    weekly_use: String,
    weekly_purchase: String,
    guideline: String,
    reason: String,
    need: &'static str,
    method: &'static str,
    prefecture_quantity: String,
    national_quantity: String,
    total_quantity: String,
    opinion: String,
    approved: Option<bool>,
    mhlw_quantity: String,
    /// 送付日 as officials read it (`2026年11月25日（水）`).
    ship_date: String,
    /// 送付日 for the date input (`2026-11-25`).
    ship_date_value: String,
    mhlw_reason: String,
    /// What the form shows as 配布数 before anything is decided (digits
    /// only: a number input).
    suggested_quantity: String,
    /// The form starts on 不承認: decided so, or, undecided, the prefecture
    /// answered 否 (issue 13.7).
    starts_refused: bool,
    /// What the form's reason starts with.
    suggested_reason: String,
    findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
struct HistoryView {
    at: String,
    actor: String,
    action: &'static str,
    detail: String,
    reason: String,
}

/// GET /requests/{id}.
pub async fn show(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Query(q): Query<QueueQuery>,
) -> Result<Html<String>, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let record = queue::get(&mut conn, id).await?;
    let conversation = conversation_of(&mut conn, id).await?;
    let preview = naiji_preview(&mut conn, &state, &record).await?;
    let ctx = context_of(&q, record.batch_date, todays_batch_now(&state));
    let walk = walk_of(&mut conn, &ctx, id).await?;
    render(
        &state,
        &staff,
        &record,
        q.notice.as_deref().and_then(msg::notice),
        conversation,
        preview,
        walk,
    )
}

/// Where keyboard users go from a request (issue 13.4): the previous and
/// next request of the queue it was opened from, and that queue's filters
/// (ids, not paths: the template's escaping would turn `/` into `&#x2f;`).
#[derive(Debug, Serialize)]
struct Walk {
    /// The filters carried on every link and form (`?date=…&…`).
    query: String,
    /// The previous request's id.
    prev: Option<i64>,
    /// The next request's id.
    next: Option<i64>,
}

async fn walk_of(
    conn: &mut sqlx::AnyConnection,
    ctx: &QueueContext,
    id: i64,
) -> Result<Walk, WebError> {
    let (prev, next) = queue::neighbours(conn, &ctx.filter, id).await?;
    Ok(Walk {
        query: ctx.query.clone(),
        prev,
        next,
    })
}

/// The queue filters a form's action carried, as a query string (a notice
/// or page in it is dropped).
fn carried(ctx: &QueueQuery) -> String {
    super::queue_page::query_string(&QueueQuery {
        page: None,
        notice: None,
        ..ctx.clone()
    })
}

/// `path` with the queue context `query` (`?…`) and a notice code added.
fn with_notice(path: &str, query: &str, notice: &str) -> String {
    match query.trim_start_matches('?') {
        "" => format!("{path}?notice={notice}"),
        q => format!("{path}?{q}&notice={notice}"),
    }
}

/// The correspondence on a request and the requests linked to it by a
/// sheet sent as a reply (issue 12, point 3).
async fn conversation_of(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<minijinja::Value, WebError> {
    use crate::queue::conversation as store;
    let items: Vec<super::conversation::CorrespondenceView> = store::for_request(conn, id)
        .await?
        .into_iter()
        .map(super::conversation::CorrespondenceView::of)
        .collect();
    let (answers, answered_by) = store::links_of(conn, id).await?;
    Ok(context! {
        correspondence => items,
        answers => answers,
        answered_by => answered_by,
        back => format!("/requests/{id}"),
    })
}

/// The 内示 mail as 受付完了 would send it now (issue 13.6): recipient and
/// body, shown while the record can still be completed.
#[derive(Debug, Serialize)]
struct NaijiPreview {
    to: Option<String>,
    body: String,
}

async fn naiji_preview(
    conn: &mut sqlx::AnyConnection,
    state: &AppState,
    r: &RequestRecord,
) -> Result<Option<NaijiPreview>, WebError> {
    if r.status != Status::UnderReview || r.superseded_by.is_some() {
        return Ok(None);
    }
    let to = naiji::recipient(conn, state.settings(), r).await?;
    Ok(Some(NaijiPreview {
        to: to.map(|t| t.address),
        body: naiji::body(state.settings(), r)?,
    }))
}

fn render(
    state: &AppState,
    staff: &Staff,
    r: &RequestRecord,
    notice: Option<&str>,
    conversation: minijinja::Value,
    naiji_preview: Option<NaijiPreview>,
    walk: Walk,
) -> Result<Html<String>, WebError> {
    let (fields, lines, other) = place_findings(r);
    let editable = r.status == Status::UnderReview && r.superseded_by.is_none();
    // Focus lands on the first item still to decide, else on 次の要請, so
    // Enter alone walks a batch (issue 13.4).
    let focus_item = lines
        .iter()
        .find(|l| editable && l.requested && l.approved.is_none())
        .map(|l| l.code);
    state.render(
        "request.html",
        context! {
            staff => staff,
            nav => "queue",
            notice => notice,
            r => context! {
                id => r.id,
                receipt => &r.receipt,
                source => source_label(r.source),
                status => r.status.as_str(),
                received_at => jst(r.received_at),
                batch_date => r.batch_date.to_string(),
                batch_reason => &r.batch_reason,
                prefecture => &r.prefecture,
                earlier_distributions => r.earlier_distributions,
                refused_because_completed => r.refused_because_completed,
                superseded_by => &r.superseded_by,
                supersedes => &r.supersedes,
                has_mail => r.source_message_sha256.is_some(),
                has_sheet => r.attachment_sha256.is_some(),
                attachment_name => &r.attachment_name,
                sheet_name => &r.sheet_name,
                gmis_record_id => &r.gmis_record_id,
                completed_at => r.completed_at.map(jst),
                completed_by => &r.completed_by,
                is_completed => r.is_completed(),
                error_count => r.findings.iter().filter(|f| f.is_error()).count(),
                warning_count => r.findings.iter().filter(|f| !f.is_error()).count(),
            },
            fields => fields,
            lines => lines,
            other_findings => other,
            history => r.history.iter().map(|h| HistoryView {
                at: jst(h.at),
                actor: h.actor.clone(),
                action: history::action_label(&h.action),
                detail: history::sentence(&h.action, &h.detail),
                reason: h.reason.clone(),
            }).collect::<Vec<_>>(),
            editable => editable,
            naiji_preview => naiji_preview,
            movable => !r.is_completed() && r.superseded_by.is_none(),
            conversation => conversation,
            focus_item => focus_item,
            walk => walk,
        },
    )
}

/// Puts each finding next to the value it concerns: an institution field,
/// an item line, or (mail and queue findings) the general list.
fn place_findings(r: &RequestRecord) -> (Vec<FieldView>, Vec<LineView>, Vec<Finding>) {
    let inst = &r.institution;
    let values = [
        inst.name.clone(),
        inst.code.clone(),
        inst.postcode.clone(),
        inst.prefecture
            .map(|p| p.name().to_string())
            .unwrap_or_default(),
        inst.address.clone(),
        inst.phone.clone(),
        inst.contact.clone(),
    ];
    let mut rest: Vec<Finding> = crate::messages::findings::all_worded(&r.findings);
    let mut fields = Vec::new();
    for (label, value) in INSTITUTION_FIELDS.into_iter().zip(values) {
        let (mine, others): (Vec<_>, Vec<_>) = rest
            .into_iter()
            .partition(|f| f.field == label && f.code.starts_with("institution"));
        rest = others;
        fields.push(FieldView {
            label,
            value,
            findings: mine,
        });
    }
    // The 送付日 already chosen for another item is the likeliest one for
    // the rest of the request: the form starts on it.
    let shipping = r.lines.iter().find_map(|l| l.mhlw.ship_date);
    let mut lines = Vec::new();
    for line in r
        .lines
        .iter()
        .filter(|l| l.requested || l.prefecture.need.is_some())
    {
        let (mine, others): (Vec<_>, Vec<_>) =
            rest.into_iter().partition(|f| concerns_item(f, line.item));
        rest = others;
        lines.push(line_view(line, mine, shipping));
    }
    (fields, lines, rest)
}

fn concerns_item(f: &Finding, item: Item) -> bool {
    f.field.contains(item.label())
        || f.code.contains(item.code())
        || f.message.starts_with(item.label())
}

fn line_view(l: &ItemLine, findings: Vec<Finding>, shipping: Option<NaiveDate>) -> LineView {
    let p = &l.prefecture;
    let said_no = p.need == Some(Need::NotNeeded);
    let starts_refused = match l.mhlw.approved {
        Some(approved) => !approved,
        None => said_no,
    };
    let suggested_reason = if l.mhlw.approved.is_none() && said_no {
        msg::refuse_as_prefecture_said().to_string()
    } else {
        l.mhlw.reason.clone()
    };
    LineView {
        code: l.item.code(),
        label: l.item.label(),
        requested: l.requested,
        stock: number(l.stock),
        outlook: l.outlook.map(|o| o.as_str()).unwrap_or_default(),
        weekly_use: number(l.weekly_use),
        weekly_purchase: number(l.weekly_purchase),
        guideline: number(l.guideline_quantity()),
        reason: l.reason.clone(),
        need: match p.need {
            Some(Need::Needed) => "要",
            Some(Need::NotNeeded) => "否",
            None => "",
        },
        method: p.method.map(|m| m.as_str()).unwrap_or_default(),
        prefecture_quantity: number(p.prefecture_quantity),
        national_quantity: number(p.national_quantity),
        total_quantity: number(p.total_quantity),
        opinion: p.opinion.clone(),
        approved: l.mhlw.approved,
        mhlw_quantity: number(l.mhlw.quantity),
        ship_date: l.mhlw.ship_date.map(date_jp).unwrap_or_default(),
        ship_date_value: l
            .mhlw
            .ship_date
            .or(shipping.filter(|_| l.mhlw.approved.is_none()))
            .map(|d| d.to_string())
            .unwrap_or_default(),
        mhlw_reason: l.mhlw.reason.clone(),
        // Nothing to suggest where the prefecture said 否.
        suggested_quantity: l
            .mhlw
            .quantity
            .or(p.total_quantity.filter(|_| !said_no))
            .map(|q| q.to_string())
            .unwrap_or_default(),
        starts_refused,
        suggested_reason,
        findings,
    }
}

/// A count as pages show it: `4,000`; empty when the cell was empty.
pub fn number(q: Option<i64>) -> String {
    q.map(|n| crate::messages::mail::quantity(Some(n)))
        .unwrap_or_default()
}

/// A date as pages and mails show it: `2026年11月25日（水）`.
pub fn date_jp(d: NaiveDate) -> String {
    crate::messages::calendar::date(d)
}

/// The decision form of one item.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    /// `approve` or `refuse`.
    #[serde(default)]
    pub decision: String,
    /// 配布数.
    #[serde(default)]
    pub quantity: String,
    /// 送付日 `YYYY-MM-DD`.
    #[serde(default)]
    pub ship_date: String,
    /// Why (required to refuse; kept in the history either way).
    #[serde(default)]
    pub reason: String,
}

/// Reads the decision form into MHLW's decision.
pub fn read_decision(form: &DecisionForm) -> Result<MhlwDecision, WebError> {
    let reason = form.reason.trim().to_string();
    let quantity = match crate::text::normalize(form.quantity.trim())
        .replace([',', '，'], "")
        .as_str()
    {
        "" => None,
        q => Some(
            q.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| WebError::BadInput(msg::bad_quantity(q)))?,
        ),
    };
    let ship_date = match form.ship_date.trim() {
        "" => None,
        d => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .map_err(|_| WebError::BadInput(msg::bad_date("送付日", d)))?,
        ),
    };
    match form.decision.as_str() {
        "approve" => {
            if quantity.is_none_or(|q| q <= 0) || ship_date.is_none() {
                return Err(WebError::BadInput(
                    msg::approve_needs_quantity_and_date().into(),
                ));
            }
            Ok(MhlwDecision {
                approved: Some(true),
                quantity,
                ship_date,
                reason,
            })
        }
        "refuse" => {
            if reason.is_empty() {
                return Err(WebError::BadInput(msg::refuse_needs_reason().into()));
            }
            Ok(MhlwDecision {
                approved: Some(false),
                quantity: None,
                ship_date: None,
                reason,
            })
        }
        _ => Err(WebError::BadInput(msg::bad_decision().into())),
    }
}

/// POST /requests/{id}/items/{item}/decision.
pub async fn decide(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path((id, item)): Path<(i64, String)>,
    Query(ctx): Query<QueueQuery>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, WebError> {
    let item = Item::parse(&item).ok_or_else(|| WebError::BadInput(msg::bad_item(&item)))?;
    let decision = read_decision(&form)?;
    let mut tx = state.db().begin().await?;
    queue::set_mhlw_decision(&mut tx, id, item, &decision, &staff.name, &decision.reason).await?;
    tx.commit().await?;
    // No `#item-…` fragment: a fragment naming an element turns autofocus
    // off, and the focus (the next item to decide, else 次の要請) is where
    // the page should open.
    let back = with_notice(&format!("/requests/{id}"), &carried(&ctx), "decided");
    Ok(Redirect::to(&back).into_response())
}

/// POST /requests/{id}/complete: 受付完了 and the 内示 mail, in one
/// transaction.
pub async fn complete(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Query(ctx): Query<QueueQuery>,
) -> Result<Response, WebError> {
    let mut tx = state.db().begin().await?;
    queue::complete(&mut tx, id, &staff.name).await?;
    let record = queue::get(&mut tx, id).await?;
    naiji::queue(&mut tx, state.settings(), &record, &staff.name).await?;
    tx.commit().await?;
    let back = with_notice(&format!("/requests/{id}"), &carried(&ctx), "completed");
    Ok(Redirect::to(&back).into_response())
}

/// The batch move form.
#[derive(Debug, Deserialize)]
pub struct MoveForm {
    /// The new 対応日.
    #[serde(default)]
    pub batch_date: String,
    /// Why (kept in the history and shown as the batch reason).
    #[serde(default)]
    pub reason: String,
}

/// POST /requests/{id}/batch.
pub async fn move_batch(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<MoveForm>,
) -> Result<Response, WebError> {
    let date = NaiveDate::parse_from_str(form.batch_date.trim(), "%Y-%m-%d")
        .map_err(|_| WebError::BadInput(msg::bad_date("対応日", &form.batch_date)))?;
    if form.reason.trim().is_empty() {
        return Err(WebError::BadInput(msg::move_needs_reason().into()));
    }
    let mut tx = state.db().begin().await?;
    queue::move_batch(&mut tx, id, date, &staff.name, form.reason.trim()).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/requests/{id}?notice=moved")).into_response())
}

/// The address form.
#[derive(Debug, Deserialize)]
pub struct AddressForm {
    /// 郵便番号.
    #[serde(default)]
    pub postcode: String,
    /// 住所, as typed.
    #[serde(default)]
    pub address: String,
}

/// POST /requests/{id}/address: completes the delivery address.
pub async fn set_address(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Path(id): Path<i64>,
    Form(form): Form<AddressForm>,
) -> Result<Response, WebError> {
    let address = crate::text::as_written(&form.address);
    if address.is_empty() {
        return Err(WebError::BadInput(msg::address_required().into()));
    }
    let postcode = crate::text::normalize(&form.postcode);
    let mut tx = state.db().begin().await?;
    queue::set_delivery_address(&mut tx, id, &postcode, &address, &staff.name).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/requests/{id}?notice=address_saved")).into_response())
}

/// GET /requests/{id}/files/mail: the original mail as received (.eml).
pub async fn download_mail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (record, bytes) = stored_file(&state, id, |r| r.source_message_sha256.as_deref()).await?;
    Ok(download(
        bytes,
        "message/rfc822",
        &format!("{}.eml", record.receipt),
    ))
}

/// GET /requests/{id}/files/sheet: the attachment the sheet was read from.
pub async fn download_sheet(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let (record, bytes) = stored_file(&state, id, |r| r.attachment_sha256.as_deref()).await?;
    let name = if record.attachment_name.is_empty() {
        format!("{}.xlsx", record.receipt)
    } else {
        record.attachment_name.clone()
    };
    Ok(download(bytes, "application/octet-stream", &name))
}

/// A request and one of the files kept with it (the original mail or the
/// sheet attachment), chosen by `sha256_of`; not found when the request has
/// no such file or the blob is gone.
async fn stored_file(
    state: &AppState,
    id: i64,
    sha256_of: impl Fn(&RequestRecord) -> Option<&str>,
) -> Result<(RequestRecord, Vec<u8>), WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let record = queue::get(&mut conn, id).await?;
    let sha = sha256_of(&record)
        .map(str::to_owned)
        .ok_or_else(WebError::not_found)?;
    let bytes = blobs::get(&mut conn, &sha)
        .await?
        .ok_or_else(WebError::not_found)?;
    Ok((record, bytes))
}

/// A file download: attachment disposition with an RFC 5987 UTF-8 name and
/// an ASCII fallback.
pub fn download(bytes: Vec<u8>, content_type: &'static str, file_name: &str) -> Response {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        super::guard::urlencode(file_name).replace('/', "%2F")
    );
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(decision: &str, quantity: &str, ship: &str, reason: &str) -> DecisionForm {
        DecisionForm {
            decision: decision.into(),
            quantity: quantity.into(),
            ship_date: ship.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn approve_needs_quantity_and_date() {
        let d = read_decision(&form("approve", "２,０００", "2026-11-25", "")).unwrap();
        assert_eq!(d.approved, Some(true));
        assert_eq!(d.quantity, Some(2000));
        assert!(read_decision(&form("approve", "0", "2026-11-25", "")).is_err());
        assert!(read_decision(&form("approve", "100", "", "")).is_err());
        assert!(read_decision(&form("approve", "-5", "2026-11-25", "")).is_err());
        assert!(read_decision(&form("approve", "100", "25/11/2026", "")).is_err());
    }

    #[test]
    fn refuse_needs_reason_and_drops_quantities() {
        assert!(read_decision(&form("refuse", "", "", " ")).is_err());
        let d = read_decision(&form("refuse", "100", "2026-11-25", "在庫1ヶ月分以上")).unwrap();
        assert_eq!(d.approved, Some(false));
        assert_eq!(d.quantity, None);
        assert!(read_decision(&form("maybe", "", "", "")).is_err());
    }
}
