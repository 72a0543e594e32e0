//! G-MIS requests into the queue: each request of a read export is dated
//! under the same cut-off rule as mail and filed beside the mailed ones.
//! The CLI `gmis import` and the web import page both call
//! [`file_requests`] inside their own transaction.

use crate::calendar::{self, CutoffRule};
use crate::gmis;
use crate::queue::{self, GmisFiling, GmisImported};
use chrono::Utc;

/// Files every request of a read export on `conn` (the caller's
/// transaction: the CLI and the web import commit it; the web preview rolls
/// it back to learn what an import would do).
pub async fn file_requests(
    conn: &mut sqlx::AnyConnection,
    export: &gmis::GmisExport,
    rule: CutoffRule,
    actor: &str,
) -> anyhow::Result<Vec<GmisImported>> {
    let mut results = Vec::with_capacity(export.requests.len());
    for request in &export.requests {
        let batch = calendar::batch(rule, &request.submitted_at);
        let filing = GmisFiling {
            record_id: request.record_id.clone(),
            received_at: request.submitted_at.with_timezone(&Utc),
            batch_date: batch.date.date(),
            batch_reason: Some(crate::messages::calendar::batch_reason(&batch.reason)),
            prefecture: request.prefecture,
            institution: request.institution.clone(),
            status: request.status,
            lines: request.lines.clone(),
            findings: Vec::new(),
            actor: actor.to_string(),
        };
        results.push(queue::import_gmis(conn, &filing).await?);
    }
    Ok(results)
}
