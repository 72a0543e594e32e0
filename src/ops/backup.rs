//! `sos-intake backup OUT` and `restore IN`.
//!
//! The SQL lives in [`crate::queue::backup`].
//!
//! SQLite: `backup` writes a consistent copy with `VACUUM INTO` while the
//! gateway runs (every committed message is in it, nothing half done: the
//! copy is one read transaction); `restore` checks a copy and moves it into
//! place as the database of an empty data directory, then the next start
//! migrates it as usual. PostgreSQL: `backup` runs `pg_dump` (custom
//! format) and `restore` runs `pg_restore` into an empty database; the
//! password is passed in the environment, never on the command line.
//!
//! Raw mail and attachments live in the database (blobs), so the database
//! is the whole state; the Maildir inbox of not-yet-read mail and `.eml`
//! replies are files of the mail system, not ours.

use crate::queue::{Backend, Db, backup as sql};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What `backup` did.
#[derive(Debug, PartialEq, Eq)]
pub enum BackupDone {
    /// A SQLite copy of this many bytes was written.
    Sqlite(u64),
    /// `pg_dump` wrote the dump.
    PgDump,
}

/// Backs up the database at `url` into `out` (which must not exist yet).
pub async fn backup(url: &str, out: &Path) -> anyhow::Result<BackupDone> {
    anyhow::ensure!(!out.exists(), "{} already exists", out.display());
    match Backend::from_url(url)? {
        Backend::Sqlite => {
            let db = Db::connect(url).await?;
            let result = sql::vacuum_into(&db, out).await;
            db.close().await;
            result?;
            sql::check_copy(out).await?;
            Ok(BackupDone::Sqlite(std::fs::metadata(out)?.len()))
        }
        Backend::Postgres => {
            run_pg(
                "pg_dump",
                url,
                &["--format=custom", "--no-owner", "--file"],
                out,
            )?;
            Ok(BackupDone::PgDump)
        }
    }
}

/// Restores `input` into the (empty) database at `url`.
pub async fn restore(url: &str, input: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(input.is_file(), "{} is not a file", input.display());
    match Backend::from_url(url)? {
        Backend::Sqlite => restore_sqlite(url, input).await,
        Backend::Postgres => {
            ensure_empty_postgres(url).await?;
            run_pg("pg_restore", url, &["--no-owner", "--exit-on-error"], input)
        }
    }
}

/// The shell command `backup` runs on PostgreSQL, for the documentation and
/// for operators who schedule it themselves (password redacted).
pub fn pg_dump_command(url: &str, out: &Path) -> String {
    format!(
        "pg_dump --format=custom --no-owner --file {} --dbname '{}'",
        out.display(),
        crate::queue::db::redact(url)
    )
}

/// `restore` refused: the target (a SQLite file or a PostgreSQL database,
/// named here) already holds a database. Worded in `messages::ops`.
#[derive(Debug)]
pub struct TargetNotEmpty(pub String);

impl std::error::Error for TargetNotEmpty {}

async fn restore_sqlite(url: &str, input: &Path) -> anyhow::Result<()> {
    let target = sqlite_path(url).context("the database URL names no SQLite file")?;
    if target.exists() {
        return Err(TargetNotEmpty(target.display().to_string()).into());
    }
    sql::check_copy(input).await?;
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    // Copy beside the target, flush, then rename: a crash leaves either no
    // database or the whole one.
    let partial = target.with_extension("restoring");
    std::fs::copy(input, &partial)
        .with_context(|| format!("cannot copy {} to {}", input.display(), partial.display()))?;
    std::fs::File::open(&partial)?.sync_all()?;
    std::fs::rename(&partial, &target)?;
    if let Ok(d) = std::fs::File::open(dir) {
        d.sync_all().ok();
    }
    // Opening migrates an older copy to this version.
    Db::connect(url).await?.close().await;
    Ok(())
}

/// Refuses a PostgreSQL database that already has the gateway's tables.
async fn ensure_empty_postgres(url: &str) -> anyhow::Result<()> {
    let tables = sql::postgres_table_count(url).await?;
    if tables != 0 {
        return Err(TargetNotEmpty(crate::queue::db::redact(url)).into());
    }
    Ok(())
}

/// Runs `pg_dump` / `pg_restore` on `url` with `args` then `file`; the
/// password goes in `PGPASSWORD`.
fn run_pg(tool: &str, url: &str, args: &[&str], file: &Path) -> anyhow::Result<()> {
    let (without_password, password) = split_password(url);
    let mut cmd = Command::new(tool);
    cmd.args(args);
    if tool == "pg_dump" {
        cmd.arg(file).arg("--dbname").arg(&without_password);
    } else {
        cmd.arg("--dbname").arg(&without_password).arg(file);
    }
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot run {tool} (install the PostgreSQL client tools)"))?;
    anyhow::ensure!(status.success(), "{tool} failed: {status}");
    Ok(())
}

/// The URL without its password, and the password.
fn split_password(url: &str) -> (String, Option<String>) {
    if let (Some(scheme_end), Some(at)) = (url.find("://"), url.rfind('@'))
        && at > scheme_end
        && let Some((user, password)) = url[scheme_end + 3..at].split_once(':')
    {
        let rest = format!("{}{}{}", &url[..scheme_end + 3], user, &url[at..]);
        return (rest, Some(password.to_string()));
    }
    (url.to_string(), None)
}

/// The file of a `sqlite:` URL; None for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_go_to_the_environment() {
        assert_eq!(
            split_password("postgres://sos:pw@db:5432/q"),
            ("postgres://sos@db:5432/q".into(), Some("pw".into()))
        );
        assert_eq!(
            split_password("postgres://sos@db/q"),
            ("postgres://sos@db/q".into(), None)
        );
    }

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_path("sqlite://./data/sos-intake.db?mode=rwc"),
            Some(PathBuf::from("./data/sos-intake.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
    }
}
