//! Exactly one gateway watches a mailbox: a lease row in the shared database
//! (`imap_leases`), taken when free or expired, renewed every few seconds by
//! its holder, free for another gateway to take once the holder stops
//! renewing (killed, hung, cut off). Works the same on SQLite (several
//! processes on one file) and PostgreSQL (several machines).
//!
//! Expiry is measured by the database's clock, so machines with skewed
//! clocks still agree. The holder also keeps a local deadline (its last
//! successful renewal plus the lease time) and gives up watching when it
//! passes without a renewal, before anyone else can take over.
//!
//! The holder renews only while its worker makes progress ([`Progress`]): a
//! worker busy with one message for longer than the stall time (a parser
//! that hangs, a database call that never returns) stops renewing, so a
//! second gateway takes the mailbox over instead of waiting behind it.
//!
//! Two watchers overlapping for a moment (a holder that has not yet noticed
//! it lost the lease) is harmless: the pipeline's Message-ID + SHA-256 key
//! lets each message be filed and answered only once.

use crate::queue::db::now_text;
use crate::queue::{Backend, Db};
use anyhow::Context;
use sqlx::Row;
use std::time::Duration;
use tokio::time::Instant;

/// A lease on one name, held (or wanted) by this process.
#[derive(Clone, Debug)]
pub struct Lease {
    db: Db,
    name: String,
    holder: String,
    ttl: Duration,
}

/// Who holds a lease now, for diagnostics and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// `host:pid:random` of the holder.
    pub holder: String,
    /// Milliseconds until it expires (negative: expired).
    pub remaining_ms: i64,
}

/// The SQL for "now, in milliseconds since the epoch" by the database's clock.
fn now_ms_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// A name for this process that is unique across machines and restarts.
pub fn holder_id() -> String {
    let host = crate::base::host::name();
    format!(
        "{host}:{}:{:08x}",
        std::process::id(),
        rand::random::<u32>()
    )
}

impl Lease {
    /// A lease on `name` for this process, expiring `ttl` after each renewal.
    pub fn new(db: Db, name: impl Into<String>, ttl: Duration) -> Lease {
        Lease {
            db,
            name: name.into(),
            holder: holder_id(),
            ttl,
        }
    }

    /// This process's holder id.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX / 2)
    }

    /// Takes the lease when it is free, expired or already ours; true when
    /// this process holds it afterwards.
    pub async fn try_acquire(&self) -> anyhow::Result<bool> {
        let now = now_ms_sql(self.db.backend());
        let updated = sqlx::query(&format!(
            "UPDATE imap_leases SET expires_at_ms = {now} + $1, \
             acquired_at = CASE WHEN holder = $2 THEN acquired_at ELSE $3 END, holder = $2 \
             WHERE name = $4 AND (holder = $2 OR expires_at_ms < {now})"
        ))
        .bind(self.ttl_ms())
        .bind(&self.holder)
        .bind(now_text())
        .bind(&self.name)
        .execute(self.db.pool())
        .await
        .context("cannot take the IMAP lease")?;
        if updated.rows_affected() == 1 {
            return Ok(true);
        }
        let inserted = sqlx::query(&format!(
            "INSERT INTO imap_leases (name, holder, expires_at_ms, acquired_at) VALUES ($1, $2, {now} + $3, $4) \
             ON CONFLICT (name) DO NOTHING"
        ))
        .bind(&self.name)
        .bind(&self.holder)
        .bind(self.ttl_ms())
        .bind(now_text())
        .execute(self.db.pool())
        .await
        .context("cannot take the IMAP lease")?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Extends the lease; false when someone else holds it now.
    pub async fn renew(&self) -> anyhow::Result<bool> {
        let now = now_ms_sql(self.db.backend());
        let updated = sqlx::query(&format!(
            "UPDATE imap_leases SET expires_at_ms = {now} + $1 WHERE name = $2 AND holder = $3"
        ))
        .bind(self.ttl_ms())
        .bind(&self.name)
        .bind(&self.holder)
        .execute(self.db.pool())
        .await
        .context("cannot renew the IMAP lease")?;
        Ok(updated.rows_affected() == 1)
    }

    /// Gives the lease up at once (graceful shutdown), so another gateway
    /// need not wait for it to expire.
    pub async fn release(&self) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM imap_leases WHERE name = $1 AND holder = $2")
            .bind(&self.name)
            .bind(&self.holder)
            .execute(self.db.pool())
            .await
            .context("cannot release the IMAP lease")?;
        Ok(())
    }

    /// Waits until this process holds the lease, trying every `every`.
    pub async fn acquire(&self, every: Duration) {
        let mut logged = false;
        loop {
            match self.try_acquire().await {
                Ok(true) => return,
                Ok(false) => {
                    if !logged {
                        if let Ok(Some(h)) = current_holder(&self.db, &self.name).await {
                            tracing::info!(lease = %self.name, holder = %h.holder, "another gateway watches the mailbox; standing by");
                        }
                        logged = true;
                    }
                }
                Err(err) => {
                    tracing::warn!(lease = %self.name, error = %format!("{err:#}"), "cannot take the IMAP lease")
                }
            }
            tokio::time::sleep(every).await;
        }
    }

    /// Renews every `every` while held and `progress` is not stalled;
    /// returns when the lease is lost: someone else took it, no renewal
    /// succeeded before the local deadline (last success + ttl, less one
    /// renewal period of margin), or the worker is stuck (then the lease is
    /// left to expire, and another gateway takes over).
    pub async fn keep(&self, every: Duration, progress: &Progress) {
        let margin = every.min(self.ttl / 2);
        let mut deadline = Instant::now() + self.ttl - margin;
        loop {
            tokio::time::sleep(every).await;
            if let Some(busy) = progress.stalled() {
                tracing::error!(lease = %self.name, busy_secs = busy.as_secs(), "the worker has been busy with one message too long; no longer renewing the IMAP lease");
                return;
            }
            let started = Instant::now();
            match self.renew().await {
                Ok(true) => deadline = started + self.ttl - margin,
                Ok(false) => {
                    tracing::warn!(lease = %self.name, "the IMAP lease was taken over by another gateway");
                    return;
                }
                Err(err) => {
                    tracing::warn!(lease = %self.name, error = %format!("{err:#}"), "cannot renew the IMAP lease")
                }
            }
            if Instant::now() >= deadline {
                tracing::warn!(lease = %self.name, "the IMAP lease could not be renewed in time; stopping");
                return;
            }
        }
    }
}

/// Whether the worker behind a lease makes progress: it is marked busy
/// while it handles one message ([`Progress::busy`]); busy for longer than
/// the stall time means stuck.
#[derive(Debug)]
pub struct Progress {
    busy_since: std::sync::Mutex<Option<Instant>>,
    stall_after: Duration,
}

/// Marks the worker busy until dropped.
#[derive(Debug)]
pub struct Busy<'a>(&'a Progress);

impl Progress {
    /// A worker that counts as stuck after `stall_after` on one message.
    pub fn new(stall_after: Duration) -> Progress {
        Progress {
            busy_since: std::sync::Mutex::new(None),
            stall_after,
        }
    }

    /// Marks the worker busy from now until the guard is dropped.
    pub fn busy(&self) -> Busy<'_> {
        *self.slot() = Some(Instant::now());
        Busy(self)
    }

    /// How long the worker has been busy, when that is past the stall time.
    pub fn stalled(&self) -> Option<Duration> {
        let since = (*self.slot())?;
        let busy = since.elapsed();
        (busy > self.stall_after).then_some(busy)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.busy_since
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        *self.0.slot() = None;
    }
}

/// Who holds `name` now, if anyone ever took it.
pub async fn current_holder(db: &Db, name: &str) -> anyhow::Result<Option<LeaseHolder>> {
    let now = now_ms_sql(db.backend());
    let row = sqlx::query(&format!(
        "SELECT holder, expires_at_ms - {now} FROM imap_leases WHERE name = $1"
    ))
    .bind(name)
    .fetch_optional(db.pool())
    .await
    .context("cannot read the IMAP lease")?;
    row.map(|r| {
        Ok(LeaseHolder {
            holder: r.try_get(0)?,
            remaining_ms: r.try_get(1)?,
        })
    })
    .transpose()
}
