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
//!
//! The lease row itself is read and written by [`crate::queue::imap_state`]
//! (the queue is the one place that issues SQL).

use crate::queue::Db;
use crate::queue::imap_state;
pub use crate::queue::imap_state::LeaseHolder;
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
        imap_state::take_lease(&self.db, &self.name, &self.holder, self.ttl_ms()).await
    }

    /// Extends the lease; false when someone else holds it now.
    pub async fn renew(&self) -> anyhow::Result<bool> {
        imap_state::renew_lease(&self.db, &self.name, &self.holder, self.ttl_ms()).await
    }

    /// Gives the lease up at once (graceful shutdown), so another gateway
    /// need not wait for it to expire.
    pub async fn release(&self) -> anyhow::Result<()> {
        imap_state::release_lease(&self.db, &self.name, &self.holder).await
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
    imap_state::lease_holder(db, name).await
}
