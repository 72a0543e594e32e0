//! Delivery addresses from a G-MIS institution list (issue 13.8), for
//! admins: upload the list, see which open requests without an address
//! it completes (by 医療機関コード, else by name within the prefecture),
//! confirm. The upload is kept as a blob at once and the confirm form
//! names only its SHA-256, so what is applied is what was previewed
//! (re-matched against the queue as it is then). Each completed request
//! is audited like an address typed by staff; one audit row records the
//! file; an address already there is never overwritten.

use super::auth::Staff;
use super::gmis_page::{PreviewedFile, uploaded_file};
use super::{AppState, WebError};
use crate::gmis_institutions as list;
use crate::messages::gmis_csv;
use crate::messages::institution_list as msg;
use crate::queue::addresses::{self, AddressPlan};
use crate::queue::{audit, blobs};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Html;
use minijinja::context;
use serde::Serialize;

/// The audit word of an institution list applied.
pub const AUDIT_ACTION: &str = "institution_list_applied";

/// What the page shows of a list.
#[derive(Debug, Serialize)]
struct ListView {
    file_name: String,
    sha256: String,
    encoding: &'static str,
    decode_errors: Option<String>,
    institutions: usize,
    errors: Vec<String>,
    matches: Vec<MatchView>,
    ambiguous: Vec<String>,
    unmatched: usize,
}

#[derive(Debug, Serialize)]
struct MatchView {
    record_id: i64,
    receipt: String,
    prefecture: String,
    institution: String,
    by: &'static str,
    line: usize,
    postcode: String,
    address: String,
}

/// GET /admin/addresses: the upload form.
pub async fn form(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<Html<String>, WebError> {
    page(&state, &staff, None, None, None)
}

/// POST /admin/addresses/preview (multipart: `csrf`, `file`).
pub async fn preview(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Html<String>, WebError> {
    let (file_name, bytes) = match uploaded_file(&headers, body).await {
        Ok(file) => file,
        Err(message) => return page(&state, &staff, Some(message), None, None),
    };
    let mut tx = state.db().begin().await?;
    let sha256 = blobs::put(&mut tx, &bytes).await?;
    tx.commit().await?;
    let read = match list::parse(&bytes) {
        Ok(read) => read,
        Err(e) => return page(&state, &staff, Some(msg::file_error(e)), None, None),
    };
    let mut conn = state.db().pool().acquire().await?;
    let plan = addresses::plan(&mut conn, &read.institutions).await?;
    let view = view_of(&read, &plan, &file_name, &sha256);
    page(&state, &staff, None, Some(view), None)
}

/// POST /admin/addresses/apply: completes the addresses, in one
/// transaction with the file's audit row.
pub async fn apply(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<PreviewedFile>,
) -> Result<Html<String>, WebError> {
    let mut tx = state.db().begin().await?;
    let Some((sha256, bytes)) = form.load(&mut tx).await? else {
        return page(&state, &staff, Some(msg::file_gone().into()), None, None);
    };
    let read = match list::parse(&bytes) {
        Ok(read) => read,
        Err(e) => return page(&state, &staff, Some(msg::file_error(e)), None, None),
    };
    let plan = addresses::plan(&mut tx, &read.institutions).await?;
    let done = addresses::apply(&mut tx, &plan, &staff.name).await?;
    let file_name = form.file_name.trim();
    let detail = serde_json::json!({
        "file_name": file_name,
        "sha256": sha256,
        "completed": done.len(),
        "record_ids": done,
    });
    audit::record(&mut tx, None, &staff.name, AUDIT_ACTION, &detail, "").await?;
    tx.commit().await?;
    let skipped = plan.matches.len() - done.len();
    let view = view_of(&read, &plan, file_name, &sha256);
    page(
        &state,
        &staff,
        None,
        Some(view),
        Some(msg::done(done.len(), skipped)),
    )
}

fn view_of(
    read: &list::InstitutionList,
    plan: &AddressPlan,
    file_name: &str,
    sha256: &str,
) -> ListView {
    ListView {
        file_name: file_name.to_string(),
        sha256: sha256.to_string(),
        encoding: gmis_csv::encoding(read.encoding),
        decode_errors: read
            .decode_errors
            .then(|| gmis_csv::decode_errors(read.encoding)),
        institutions: read.institutions.len(),
        errors: read.errors.iter().map(msg::row_error).collect(),
        matches: plan
            .matches
            .iter()
            .map(|m| MatchView {
                record_id: m.record_id,
                receipt: m.receipt.clone(),
                prefecture: m.prefecture.clone(),
                institution: m.institution_name.clone(),
                by: msg::matched_by(m.by),
                line: m.line,
                postcode: m.postcode.clone(),
                address: m.address.clone(),
            })
            .collect(),
        ambiguous: plan.ambiguous.clone(),
        unmatched: plan.unmatched,
    }
}

fn page(
    state: &AppState,
    staff: &Staff,
    error: Option<String>,
    list: Option<ListView>,
    done: Option<String>,
) -> Result<Html<String>, WebError> {
    state.render(
        "gmis_addresses.html",
        context! {
            staff => staff,
            nav => "addresses",
            error => error,
            o => list,
            done => done,
        },
    )
}
