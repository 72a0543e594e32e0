//! The IMAP watcher's state in the database beside the queue
//! (`migrations/*/0004_imap.sql`): per mailbox, where it was read up to
//! (UIDVALIDITY + last UID handled) and the folder moves still owed; per
//! watched mailbox, the lease that lets exactly one gateway watch it.
//!
//! Only the storage lives here, so that the queue is the one place that
//! issues SQL. When to advance the checkpoint and how the lease is kept
//! are the watcher's business: [`crate::mailbox::imap::checkpoint`] and
//! [`crate::mailbox::imap::lease`].

use super::db::{Backend, Db, now_text};
use anyhow::Context;
use sqlx::Row;

/// A mailbox's stored position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The UIDVALIDITY the UIDs belong to.
    pub uidvalidity: u32,
    /// Every UID up to this one has been handled.
    pub last_uid: u32,
}

/// A move that was owed when the connection last ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMove {
    /// The message's UID (under the checkpoint's UIDVALIDITY).
    pub uid: u32,
    /// The folder it goes to.
    pub folder: String,
    /// How many times the move was tried already.
    pub attempts: u32,
}

/// Who holds a lease now, for diagnostics and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// `host:pid:random` of the holder.
    pub holder: String,
    /// Milliseconds until it expires (negative: expired).
    pub remaining_ms: i64,
}

/// Reads the checkpoint of `mailbox` (the watcher's key), if any.
pub async fn load_checkpoint(db: &Db, mailbox: &str) -> anyhow::Result<Option<Checkpoint>> {
    let row = sqlx::query("SELECT uidvalidity, last_uid FROM imap_checkpoints WHERE mailbox = $1")
        .bind(mailbox)
        .fetch_optional(db.pool())
        .await
        .context("cannot read the IMAP checkpoint")?;
    row.map(|r| {
        Ok(Checkpoint {
            uidvalidity: to_u32(r.try_get::<i64, _>(0)?)?,
            last_uid: to_u32(r.try_get::<i64, _>(1)?)?,
        })
    })
    .transpose()
}

fn to_u32(v: i64) -> anyhow::Result<u32> {
    u32::try_from(v).with_context(|| format!("stored UID out of range: {v}"))
}

/// Starts over under a new UIDVALIDITY: the position goes back to 0 and the
/// moves owed under the old one are dropped (their UIDs mean nothing now;
/// the rescan moves those messages again).
pub async fn reset_checkpoint(db: &Db, mailbox: &str, uidvalidity: u32) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    upsert_checkpoint(&mut tx, mailbox, uidvalidity, 0).await?;
    sqlx::query("DELETE FROM imap_pending_moves WHERE mailbox = $1 AND uidvalidity <> $2")
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .execute(&mut *tx)
        .await
        .context("cannot drop stale IMAP moves")?;
    tx.commit()
        .await
        .context("cannot reset the IMAP checkpoint")?;
    Ok(())
}

async fn upsert_checkpoint(
    conn: &mut sqlx::AnyConnection,
    mailbox: &str,
    uidvalidity: u32,
    last_uid: u32,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO imap_checkpoints (mailbox, uidvalidity, last_uid, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = excluded.uidvalidity, \
         last_uid = excluded.last_uid, updated_at = excluded.updated_at",
    )
    .bind(mailbox)
    .bind(i64::from(uidvalidity))
    .bind(i64::from(last_uid))
    .bind(now_text())
    .execute(&mut *conn)
    .await
    .context("cannot write the IMAP checkpoint")?;
    Ok(())
}

/// Marks `uid` handled (the checkpoint never moves backwards) and, when
/// `folder` is given, notes that the message still has to go there, both
/// in one transaction.
pub async fn record_handled(
    db: &Db,
    mailbox: &str,
    uidvalidity: u32,
    uid: u32,
    folder: Option<&str>,
) -> anyhow::Result<()> {
    record_handled_all(db, mailbox, uidvalidity, &[(uid, folder)]).await
}

/// [`record_handled`] for several messages in one transaction: the
/// checkpoint goes to the highest UID of `handled` (never backwards), and
/// every message given a folder is noted as owed a move there. The caller
/// passes only a run of UIDs with nothing unhandled below its highest.
pub async fn record_handled_all(
    db: &Db,
    mailbox: &str,
    uidvalidity: u32,
    handled: &[(u32, Option<&str>)],
) -> anyhow::Result<()> {
    let Some(highest) = handled.iter().map(|(uid, _)| *uid).max() else {
        return Ok(());
    };
    let mut tx = db.begin().await?;
    let current =
        sqlx::query("SELECT uidvalidity, last_uid FROM imap_checkpoints WHERE mailbox = $1")
            .bind(mailbox)
            .fetch_optional(&mut *tx)
            .await
            .context("cannot read the IMAP checkpoint")?;
    let keep = match current {
        Some(r) => {
            r.try_get::<i64, _>(0)? == i64::from(uidvalidity)
                && r.try_get::<i64, _>(1)? >= i64::from(highest)
        }
        None => false,
    };
    if !keep {
        upsert_checkpoint(&mut tx, mailbox, uidvalidity, highest).await?;
    }
    let now = now_text();
    for (uid, folder) in handled {
        let Some(folder) = folder else { continue };
        sqlx::query(
            "INSERT INTO imap_pending_moves (mailbox, uidvalidity, uid, folder, attempts, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (mailbox, uidvalidity, uid) DO UPDATE SET folder = excluded.folder",
        )
        .bind(mailbox)
        .bind(i64::from(uidvalidity))
        .bind(i64::from(*uid))
        .bind(*folder)
        .bind(&now)
        .execute(&mut *tx)
        .await
        .context("cannot note the IMAP move")?;
    }
    tx.commit()
        .await
        .context("cannot commit the IMAP checkpoint")?;
    Ok(())
}

/// The moves still owed under `uidvalidity`, oldest UID first.
pub async fn pending_moves(
    db: &Db,
    mailbox: &str,
    uidvalidity: u32,
) -> anyhow::Result<Vec<PendingMove>> {
    let rows = sqlx::query(
        "SELECT uid, folder, attempts FROM imap_pending_moves WHERE mailbox = $1 AND uidvalidity = $2 ORDER BY uid",
    )
    .bind(mailbox)
    .bind(i64::from(uidvalidity))
    .fetch_all(db.pool())
    .await
    .context("cannot read owed IMAP moves")?;
    rows.iter()
        .map(|r| {
            Ok(PendingMove {
                uid: to_u32(r.try_get::<i64, _>(0)?)?,
                folder: r.try_get(1)?,
                attempts: to_u32(r.try_get::<i64, _>(2)?)?,
            })
        })
        .collect()
}

/// The move of `uid` is done (or given up): forget it.
pub async fn move_done(db: &Db, mailbox: &str, uidvalidity: u32, uid: u32) -> anyhow::Result<()> {
    move_done_all(db, mailbox, uidvalidity, &[uid]).await
}

/// The moves of `uids` are done (or given up): forget them, in one
/// transaction.
pub async fn move_done_all(
    db: &Db,
    mailbox: &str,
    uidvalidity: u32,
    uids: &[u32],
) -> anyhow::Result<()> {
    on_pending_moves(
        db,
        "DELETE FROM imap_pending_moves WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3",
        (mailbox, uidvalidity, uids),
    )
    .await
    .context("cannot clear the IMAP move")
}

/// The move of `uid` failed once more.
pub async fn move_failed(db: &Db, mailbox: &str, uidvalidity: u32, uid: u32) -> anyhow::Result<()> {
    move_failed_all(db, mailbox, uidvalidity, &[uid]).await
}

/// The moves of `uids` failed once more, in one transaction.
pub async fn move_failed_all(
    db: &Db,
    mailbox: &str,
    uidvalidity: u32,
    uids: &[u32],
) -> anyhow::Result<()> {
    on_pending_moves(
        db,
        "UPDATE imap_pending_moves SET attempts = attempts + 1 WHERE mailbox = $1 AND uidvalidity = $2 AND uid = $3",
        (mailbox, uidvalidity, uids),
    )
    .await
    .context("cannot count the failed IMAP move")
}

/// Runs `sql` on the owed move of each message of `uids`, keyed `$1`
/// mailbox, `$2` UIDVALIDITY, `$3` UID, in one transaction.
async fn on_pending_moves(
    db: &Db,
    sql: &'static str,
    (mailbox, uidvalidity, uids): (&str, u32, &[u32]),
) -> anyhow::Result<()> {
    if uids.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for uid in uids {
        sqlx::query(sql)
            .bind(mailbox)
            .bind(i64::from(uidvalidity))
            .bind(i64::from(*uid))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The SQL for "now, in milliseconds since the epoch" by the database's
/// clock: lease expiry is measured there, so machines with skewed clocks
/// still agree.
fn now_ms_sql(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// Takes lease `name` for `holder` for `ttl_ms` when it is free, expired or
/// already theirs; true when `holder` holds it afterwards.
pub async fn take_lease(db: &Db, name: &str, holder: &str, ttl_ms: i64) -> anyhow::Result<bool> {
    let now = now_ms_sql(db.backend());
    let updated = sqlx::query(&format!(
        "UPDATE imap_leases SET expires_at_ms = {now} + $1, \
         acquired_at = CASE WHEN holder = $2 THEN acquired_at ELSE $3 END, holder = $2 \
         WHERE name = $4 AND (holder = $2 OR expires_at_ms < {now})"
    ))
    .bind(ttl_ms)
    .bind(holder)
    .bind(now_text())
    .bind(name)
    .execute(db.pool())
    .await
    .context("cannot take the IMAP lease")?;
    if updated.rows_affected() == 1 {
        return Ok(true);
    }
    // Nobody ever took it: the first insert wins, a concurrent one loses.
    let inserted = sqlx::query(&format!(
        "INSERT INTO imap_leases (name, holder, expires_at_ms, acquired_at) VALUES ($1, $2, {now} + $3, $4) \
         ON CONFLICT (name) DO NOTHING"
    ))
    .bind(name)
    .bind(holder)
    .bind(ttl_ms)
    .bind(now_text())
    .execute(db.pool())
    .await
    .context("cannot take the IMAP lease")?;
    Ok(inserted.rows_affected() == 1)
}

/// Extends lease `name` by `ttl_ms` from now; false when someone other
/// than `holder` holds it now.
pub async fn renew_lease(db: &Db, name: &str, holder: &str, ttl_ms: i64) -> anyhow::Result<bool> {
    let now = now_ms_sql(db.backend());
    let updated = sqlx::query(&format!(
        "UPDATE imap_leases SET expires_at_ms = {now} + $1 WHERE name = $2 AND holder = $3"
    ))
    .bind(ttl_ms)
    .bind(name)
    .bind(holder)
    .execute(db.pool())
    .await
    .context("cannot renew the IMAP lease")?;
    Ok(updated.rows_affected() == 1)
}

/// Gives lease `name` up when `holder` holds it.
pub async fn release_lease(db: &Db, name: &str, holder: &str) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM imap_leases WHERE name = $1 AND holder = $2")
        .bind(name)
        .bind(holder)
        .execute(db.pool())
        .await
        .context("cannot release the IMAP lease")?;
    Ok(())
}

/// Who holds `name` now, if anyone ever took it.
pub async fn lease_holder(db: &Db, name: &str) -> anyhow::Result<Option<LeaseHolder>> {
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
