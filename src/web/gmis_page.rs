//! G-MIS import in the browser (issue 13.1): upload the SOS report export,
//! see what an import would do, confirm.
//!
//! The preview files the export inside a transaction that is rolled back,
//! so it shows exactly what the import will do (new, changed, unchanged,
//! left alone because 受付完了) with the same code the CLI runs. The upload
//! is kept as a blob by its SHA-256 at once; the confirm form names only
//! that hash, so what is imported is byte for byte what was previewed. The
//! import itself is idempotent like `sos-intake gmis import` and leaves one
//! audit row (who, when, file name, SHA-256, counts).

use super::auth::Staff;
use super::guard::{self, Part};
use super::{AppState, WebError};
use crate::calendar::CutoffRule;
use crate::gmis::{self, GmisExport};
use crate::messages::gmis_csv;
use crate::messages::queue::cli as label;
use crate::messages::web as msg;
use crate::pipeline::gmis::file_requests;
use crate::queue::{self, GmisChange, GmisImported, audit, blobs};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::Html;
use minijinja::context;
use serde::{Deserialize, Serialize};

/// The audit word of a G-MIS file imported in the browser.
pub const AUDIT_ACTION: &str = "gmis_file_imported";

/// How many past imports the page lists.
const RECENT_IMPORTS: i64 = 10;

/// One request of the preview or the result.
#[derive(Debug, Serialize)]
struct RequestView {
    record_id: String,
    institution: String,
    prefecture: &'static str,
    items: String,
    change: &'static str,
    change_code: &'static str,
    /// Link target when the record exists (not for a preview's new ones).
    request_id: Option<i64>,
    receipt: String,
}

/// One bad row, in file order.
#[derive(Debug, Serialize)]
struct ErrorView {
    line: usize,
    record_id: String,
    message: String,
}

/// Counts by change, for the summary line.
#[derive(Debug, Default, Serialize)]
struct Counts {
    created: usize,
    updated: usize,
    unchanged: usize,
    kept: usize,
    errors: usize,
}

/// A past import, from the audit list.
#[derive(Debug, Serialize)]
struct PastImport {
    at: String,
    actor: String,
    file_name: String,
    sha256: String,
    summary: String,
}

/// GET /gmis: the upload form and the latest imports.
pub async fn form(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
) -> Result<Html<String>, WebError> {
    page(&state, &staff, None, None, None).await
}

/// POST /gmis/preview (multipart: `csrf`, `file`).
pub async fn preview(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Html<String>, WebError> {
    let (file_name, bytes) = match uploaded_file(&headers, body).await {
        Ok(file) => file,
        Err(message) => return page(&state, &staff, Some(message), None, None).await,
    };
    // Kept at once: the confirm form names the blob, not the bytes.
    let mut tx = state.db().begin().await?;
    let sha256 = blobs::put(&mut tx, &bytes).await?;
    tx.commit().await?;
    let export = match gmis::parse(&bytes) {
        Ok(export) => export,
        Err(err) => {
            let message = gmis_csv::file_error(&err);
            return page(&state, &staff, Some(message), None, None).await;
        }
    };
    let mut dry = state.db().begin().await?;
    let results = file_requests(&mut dry, &export, rule(&state)?, &staff.name).await?;
    dry.rollback().await?;
    let preview = outcome(&export, &results, false, &file_name, &sha256);
    page(&state, &staff, None, Some(preview), None).await
}

/// The confirm form of a preview (G-MIS export, institution list): it
/// names the uploaded file, kept as a blob, by its SHA-256.
#[derive(Debug, Deserialize)]
pub struct PreviewedFile {
    /// The SHA-256 of the previewed file.
    #[serde(default)]
    pub sha256: String,
    /// The name the file was uploaded with.
    #[serde(default)]
    pub file_name: String,
}

impl PreviewedFile {
    /// The file's SHA-256 (lower case) and bytes; None when the form does
    /// not name a stored file (tampered with, or purged since).
    pub(crate) async fn load(
        &self,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<Option<(String, Vec<u8>)>, WebError> {
        let sha256 = self.sha256.trim().to_ascii_lowercase();
        let is_hash = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hash {
            return Ok(None);
        }
        Ok(blobs::get(conn, &sha256)
            .await?
            .map(|bytes| (sha256, bytes)))
    }
}

/// POST /gmis/import: imports the previewed file, in one transaction with
/// its audit row.
pub async fn import(
    State(state): State<AppState>,
    Extension(staff): Extension<Staff>,
    Form(form): Form<PreviewedFile>,
) -> Result<Html<String>, WebError> {
    let mut tx = state.db().begin().await?;
    let Some((sha256, bytes)) = form.load(&mut tx).await? else {
        let message = msg::gmis_file_gone().to_string();
        return page(&state, &staff, Some(message), None, None).await;
    };
    let export = match gmis::parse(&bytes) {
        Ok(export) => export,
        Err(err) => {
            let message = gmis_csv::file_error(&err);
            return page(&state, &staff, Some(message), None, None).await;
        }
    };
    let results = file_requests(&mut tx, &export, rule(&state)?, &staff.name).await?;
    let file_name = form.file_name.trim();
    let done = outcome(&export, &results, true, file_name, &sha256);
    let detail = serde_json::json!({
        "file_name": file_name,
        "sha256": sha256,
        "encoding": export.encoding,
        "created": done.counts.created,
        "updated": done.counts.updated,
        "unchanged": done.counts.unchanged,
        "kept_completed": done.counts.kept,
        "row_errors": done.counts.errors,
    });
    audit::record(&mut tx, None, &staff.name, AUDIT_ACTION, &detail, "").await?;
    tx.commit().await?;
    page(&state, &staff, None, None, Some(done)).await
}

/// What a preview or an import shows.
#[derive(Debug, Serialize)]
struct Outcome {
    file_name: String,
    sha256: String,
    encoding: &'static str,
    decode_errors: Option<String>,
    rows: usize,
    footer_line: Option<usize>,
    counts: Counts,
    requests: Vec<RequestView>,
    errors: Vec<ErrorView>,
}

fn outcome(
    export: &GmisExport,
    results: &[GmisImported],
    committed: bool,
    file_name: &str,
    sha256: &str,
) -> Outcome {
    let mut counts = Counts {
        errors: export.errors.len(),
        ..Counts::default()
    };
    let requests = export
        .requests
        .iter()
        .zip(results)
        .map(|(r, done)| {
            match done.change {
                GmisChange::Created => counts.created += 1,
                GmisChange::Updated => counts.updated += 1,
                GmisChange::Unchanged => counts.unchanged += 1,
                GmisChange::KeptCompleted => counts.kept += 1,
            }
            // A preview's new record was rolled back: no page to link.
            let exists = committed || done.change != GmisChange::Created;
            RequestView {
                record_id: r.record_id.clone(),
                institution: r.institution.name.clone(),
                prefecture: r.prefecture.name(),
                items: r
                    .lines
                    .iter()
                    .map(|l| l.item.label())
                    .collect::<Vec<_>>()
                    .join("・"),
                change: label::gmis_change(done.change),
                change_code: change_code(done.change),
                request_id: exists.then_some(done.record_id),
                receipt: if exists {
                    done.receipt.clone()
                } else {
                    String::new()
                },
            }
        })
        .collect();
    let errors = export
        .errors
        .iter()
        .map(|e| ErrorView {
            line: e.line,
            record_id: e.record_id.clone().unwrap_or_default(),
            message: gmis_csv::row_error(e),
        })
        .collect();
    Outcome {
        file_name: file_name.to_string(),
        sha256: sha256.to_string(),
        encoding: gmis_csv::encoding(export.encoding),
        decode_errors: export
            .decode_errors
            .then(|| gmis_csv::decode_errors(export.encoding)),
        rows: export.rows,
        footer_line: export.footer_line,
        counts,
        requests,
        errors,
    }
}

fn change_code(change: GmisChange) -> &'static str {
    match change {
        GmisChange::Created => "created",
        GmisChange::Updated => "updated",
        GmisChange::Unchanged => "unchanged",
        GmisChange::KeptCompleted => "kept",
    }
}

/// The uploaded file's name and bytes, or what to tell the official.
pub(crate) async fn uploaded_file(
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(String, Vec<u8>), String> {
    let boundary = guard::multipart_boundary(headers).ok_or(msg::gmis_bad_upload())?;
    let parts = guard::multipart_fields(body, &boundary)
        .await
        .map_err(|_| msg::gmis_bad_upload().to_string())?;
    let file: Option<Part> = parts
        .into_iter()
        .find(|p| p.name == "file" && !p.data.is_empty());
    let file = file.ok_or(msg::gmis_no_file())?;
    let name = file.file_name.unwrap_or_default();
    // The browser's file name is shown and audited: no paths, no controls.
    let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let name = crate::text::strip_controls(name)
        .chars()
        .take(200)
        .collect();
    Ok((name, file.data.to_vec()))
}

fn rule(state: &AppState) -> Result<CutoffRule, WebError> {
    state
        .settings()
        .config
        .cutoff_rule()
        .map_err(WebError::Internal)
}

async fn page(
    state: &AppState,
    staff: &Staff,
    error: Option<String>,
    preview: Option<Outcome>,
    done: Option<Outcome>,
) -> Result<Html<String>, WebError> {
    let mut conn = state.db().pool().acquire().await?;
    let recent = queue::audit::recent_of(&mut conn, AUDIT_ACTION, RECENT_IMPORTS)
        .await?
        .into_iter()
        .map(|e| PastImport {
            at: super::queue_page::jst(e.at),
            actor: e.actor,
            file_name: e.detail["file_name"].as_str().unwrap_or_default().into(),
            sha256: e.detail["sha256"].as_str().unwrap_or_default().into(),
            summary: label::gmis_summary(
                count(&e.detail["created"]),
                count(&e.detail["updated"]),
                count(&e.detail["unchanged"]),
                count(&e.detail["kept_completed"]),
                count(&e.detail["row_errors"]),
            ),
        })
        .collect::<Vec<_>>();
    state.render(
        "gmis.html",
        context! {
            staff => staff,
            nav => "gmis",
            error => error,
            done => done.is_some(),
            o => done.or(preview),
            recent => recent,
        },
    )
}

fn count(v: &serde_json::Value) -> usize {
    v.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0)
}
