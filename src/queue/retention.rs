//! The SQL of `sos-intake purge` (issue 14 point 5): which raw mails,
//! attached sheets and personal fields of 受付完了 requests are past their
//! retention ([`plan`]), and purging them in one transaction with an audit
//! row per request ([`purge`]). Migration 0011 lets exactly these changes
//! through the 受付完了 and blob guards; the decisions stay.

use super::audit;
use super::db::{Db, date_text, now_text};
use anyhow::Context;
use chrono::NaiveDate;
use sqlx::{AnyConnection, Row};

/// The audit action of a purge.
pub const ACTION: &str = "retention_purged";

/// What [`plan`] looks at: requests whose batch date is before these.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cutoffs {
    /// Raw mail, attachments and sent replies of older batches go.
    pub raw_mail_before: Option<NaiveDate>,
    /// Personal fields of older batches go.
    pub personal_before: Option<NaiveDate>,
}

/// A request touched by a purge.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Touched {
    /// Its id.
    pub id: i64,
    /// Its receipt number.
    pub receipt: String,
}

/// A blob to empty, with the requests it belongs to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BlobPurge {
    /// SHA-256 of the bytes.
    pub sha256: String,
    /// Its size in bytes.
    pub size: i64,
    /// `raw_mail` or `attachment`.
    pub kind: &'static str,
    /// The requests it came with (all 受付完了 and old enough).
    pub requests: Vec<Touched>,
}

/// Everything one purge would remove.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    /// Requests whose 担当者名 and 電話番号 are blanked.
    pub personal: Vec<Touched>,
    /// Raw mails and attachments emptied.
    pub blobs: Vec<BlobPurge>,
}

impl Plan {
    /// True when nothing would go.
    pub fn is_empty(&self) -> bool {
        self.personal.is_empty() && self.blobs.is_empty()
    }
}

/// What is past its retention now. A mail or attachment goes only when
/// every request that came with it is 受付完了 and old enough.
pub async fn plan(conn: &mut AnyConnection, cutoffs: Cutoffs) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    if let Some(before) = cutoffs.personal_before {
        let rows = sqlx::query(
            "SELECT id, receipt FROM requests WHERE status = '受付完了' AND batch_date < $1 \
             AND personal_purged_at IS NULL AND (institution_contact <> '' OR institution_phone <> '') \
             ORDER BY id",
        )
        .bind(date_text(before))
        .fetch_all(&mut *conn)
        .await
        .context("cannot list requests past their retention")?;
        for r in rows {
            plan.personal.push(Touched {
                id: r.try_get("id")?,
                receipt: r.try_get("receipt")?,
            });
        }
    }
    if let Some(before) = cutoffs.raw_mail_before {
        plan.blobs
            .extend(blobs(conn, "source_message_sha256", "raw_mail", before).await?);
        plan.blobs
            .extend(blobs(conn, "attachment_sha256", "attachment", before).await?);
    }
    Ok(plan)
}

/// The unpurged blobs in `column` whose every request is 受付完了 before
/// `before`.
async fn blobs(
    conn: &mut AnyConnection,
    column: &str,
    kind: &'static str,
    before: NaiveDate,
) -> anyhow::Result<Vec<BlobPurge>> {
    // `column` is one of two fixed names, never input.
    let sql = format!(
        "SELECT r.id, r.receipt, b.sha256, b.size FROM requests r JOIN blobs b ON b.sha256 = r.{column} \
         WHERE b.purged_at IS NULL AND r.status = '受付完了' AND r.batch_date < $1 \
         AND NOT EXISTS (SELECT 1 FROM requests o WHERE o.{column} = r.{column} \
                         AND NOT (o.status = '受付完了' AND o.batch_date < $1)) \
         ORDER BY b.sha256, r.id"
    );
    let rows = sqlx::query(&sql)
        .bind(date_text(before))
        .fetch_all(&mut *conn)
        .await
        .context("cannot list mail past its retention")?;
    let mut out: Vec<BlobPurge> = Vec::new();
    for r in rows {
        let sha256: String = r.try_get("sha256")?;
        let touched = Touched {
            id: r.try_get("id")?,
            receipt: r.try_get("receipt")?,
        };
        match out.last_mut() {
            Some(last) if last.sha256 == sha256 => last.requests.push(touched),
            _ => out.push(BlobPurge {
                sha256,
                size: r.try_get("size")?,
                kind,
                requests: vec![touched],
            }),
        }
    }
    Ok(out)
}

/// Carries out `plan` in one transaction: blanks personal fields, empties
/// blobs and the sent replies of purged mails, and writes one audit row
/// per request and purge, by `actor` with `reason`.
pub async fn purge(db: &Db, plan: &Plan, actor: &str, reason: &str) -> anyhow::Result<()> {
    let now = now_text();
    let mut tx = db.begin().await?;
    for t in &plan.personal {
        sqlx::query(
            "UPDATE requests SET institution_contact = '', institution_phone = '', personal_purged_at = $1 \
             WHERE id = $2 AND personal_purged_at IS NULL",
        )
        .bind(&now)
        .bind(t.id)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot purge the personal fields of {}", t.receipt))?;
        let detail =
            serde_json::json!({"personal_fields": ["institution_contact", "institution_phone"]});
        audit::record(&mut tx, Some(t.id), actor, ACTION, &detail, reason).await?;
    }
    for b in &plan.blobs {
        sqlx::query(
            "UPDATE blobs SET content = $1, purged_at = $2 WHERE sha256 = $3 AND purged_at IS NULL",
        )
        .bind(Vec::<u8>::new())
        .bind(&now)
        .bind(&b.sha256)
        .execute(&mut *tx)
        .await
        .with_context(|| format!("cannot purge blob {}", b.sha256))?;
        if b.kind == "raw_mail" {
            // The reply quoted the sheet and was sent: its copy goes too.
            sqlx::query(
                "UPDATE outbox SET raw = $1 WHERE status <> 'queued' AND mail_message_id IN \
                 (SELECT id FROM mail_messages WHERE raw_sha256 = $2)",
            )
            .bind(Vec::<u8>::new())
            .bind(&b.sha256)
            .execute(&mut *tx)
            .await
            .context("cannot purge the sent replies")?;
        }
        let detail = serde_json::json!({b.kind: b.sha256, "size": b.size});
        for t in &b.requests {
            audit::record(&mut tx, Some(t.id), actor, ACTION, &detail, reason).await?;
        }
    }
    tx.commit().await.context("cannot commit the purge")?;
    Ok(())
}
