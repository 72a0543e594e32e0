//! The SQL behind readiness, `/metrics` and `sos-intake status`: a ping,
//! queue sizes, and the age of the oldest reply still waiting to go out.

use super::db::{Db, parse_time};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::Row;

/// How much is waiting or set aside, counted in one read.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueueSizes {
    /// Replies queued and not yet sent (the outbox depth).
    pub outbox_queued: i64,
    /// Replies failed for good (the outbox's dead letters).
    pub outbox_failed: i64,
    /// Quarantined mails not yet released.
    pub quarantined: i64,
    /// Messages set aside as 処理不能 (intake dead letters) not retried.
    pub dead_letters: i64,
    /// When the oldest queued reply was queued.
    pub oldest_queued_at: Option<DateTime<Utc>>,
}

impl QueueSizes {
    /// The part of these sizes `/metrics` exports as gauges.
    pub fn gauges(&self) -> crate::observe::monitor::QueueGauges {
        crate::observe::monitor::QueueGauges {
            outbox_queued: self.outbox_queued,
            outbox_failed: self.outbox_failed,
            quarantined: self.quarantined,
            dead_letters: self.dead_letters,
        }
    }
}

/// Answers when the database does (a trivial query on a pooled
/// connection), so a server that went away is noticed.
pub async fn ping(db: &Db) -> anyhow::Result<()> {
    sqlx::query("SELECT 1")
        .fetch_one(db.pool())
        .await
        .context("the database does not answer")?;
    Ok(())
}

/// Counts the outbox, quarantine and dead letters.
pub async fn sizes(db: &Db) -> anyhow::Result<QueueSizes> {
    let row = sqlx::query(
        "SELECT \
           (SELECT COUNT(*) FROM outbox WHERE status = 'queued') AS queued, \
           (SELECT COUNT(*) FROM outbox WHERE status = 'failed') AS failed, \
           (SELECT COUNT(*) FROM quarantine WHERE released_at IS NULL) AS quarantined, \
           (SELECT COUNT(*) FROM intake_attempts WHERE state = 'dead') AS dead, \
           (SELECT MIN(created_at) FROM outbox WHERE status = 'queued') AS oldest",
    )
    .fetch_one(db.pool())
    .await
    .context("cannot count the outbox and quarantine")?;
    let oldest: Option<String> = row.try_get("oldest")?;
    Ok(QueueSizes {
        outbox_queued: row.try_get("queued")?,
        outbox_failed: row.try_get("failed")?,
        quarantined: row.try_get("quarantined")?,
        dead_letters: row.try_get("dead")?,
        oldest_queued_at: oldest.as_deref().map(parse_time).transpose()?,
    })
}

/// Every staff account's name and stored password hash (for `config
/// check`'s demo-password warning).
pub async fn password_hashes(db: &Db) -> anyhow::Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT name, password_hash FROM web_users ORDER BY name")
        .fetch_all(db.pool())
        .await
        .context("cannot read the staff accounts")?;
    rows.iter()
        .map(|r| Ok((r.try_get("name")?, r.try_get("password_hash")?)))
        .collect()
}
