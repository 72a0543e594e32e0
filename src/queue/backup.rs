//! The SQL of `sos-intake backup` / `restore` on SQLite: a consistent copy
//! with `VACUUM INTO` (one read transaction, so the copy is the database
//! as of one instant, with the gateway running) and the checks a restored
//! file must pass.

use super::db::Db;
use anyhow::Context;
use sqlx::{Connection, Row};
use std::path::Path;

/// Writes a consistent copy of the SQLite database `db` to `out` (which
/// must not exist).
pub async fn vacuum_into(db: &Db, out: &Path) -> anyhow::Result<()> {
    let target = out
        .to_str()
        .context("the backup path is not valid UTF-8")?
        .replace('\'', "''");
    sqlx::query(&format!("VACUUM INTO '{target}'"))
        .execute(db.pool())
        .await
        .with_context(|| format!("cannot write the backup {}", out.display()))?;
    Ok(())
}

/// Opens the SQLite file `path` read-only and checks that it is whole
/// (`PRAGMA integrity_check`) and is a gateway database (it has the
/// migration history). Returns how many migrations it has.
pub async fn check_copy(path: &Path) -> anyhow::Result<i64> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = sqlx::AnyConnection::connect(&url)
        .await
        .with_context(|| format!("cannot open {} as SQLite", path.display()))?;
    let verdict: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .context("not a readable SQLite database")?
        .try_get(0)?;
    anyhow::ensure!(verdict == "ok", "the copy is damaged: {verdict}");
    let migrations: i64 = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&mut conn)
        .await
        .context("not a sos-intake database (no migration history)")?
        .try_get(0)?;
    conn.close().await.ok();
    Ok(migrations)
}

/// How many tables the PostgreSQL database at `url` has in its `public`
/// schema (a restore goes only into an empty one).
pub async fn postgres_table_count(url: &str) -> anyhow::Result<i64> {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .with_context(|| format!("cannot connect to {}", super::db::redact(url)))?;
    let tables: i64 =
        sqlx::query("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'")
            .fetch_one(&mut conn)
            .await?
            .try_get(0)?;
    conn.close().await.ok();
    Ok(tables)
}
