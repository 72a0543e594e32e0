//! `sos-intake backup OUT` and `sos-intake restore IN` (see
//! [`crate::ops::backup`]).

use crate::config::Settings;
use crate::messages::ops as msg;
use crate::ops::backup::{self, BackupDone};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `sos-intake backup`.
#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The file to write (must not exist): a SQLite copy, or a `pg_dump`
    /// custom-format dump on PostgreSQL.
    pub out: PathBuf,
    /// On PostgreSQL, print the `pg_dump` command instead of running it.
    #[arg(long)]
    pub print: bool,
}

/// Arguments of `sos-intake restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// A file written by `sos-intake backup`.
    pub input: PathBuf,
}

/// Runs `backup`.
pub async fn run_backup(settings: &Settings, args: BackupArgs) -> anyhow::Result<ExitCode> {
    let url = &settings.database_url;
    if args.print && crate::queue::Backend::from_url(url)? == crate::queue::Backend::Postgres {
        println!(
            "{}",
            msg::backup_pg_dump(&backup::pg_dump_command(url, &args.out))
        );
        return Ok(ExitCode::SUCCESS);
    }
    let size = match backup::backup(url, &args.out).await? {
        BackupDone::Sqlite(bytes) => bytes,
        BackupDone::PgDump => std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0),
    };
    println!(
        "{}",
        msg::backup_written(&args.out.display().to_string(), size)
    );
    Ok(ExitCode::SUCCESS)
}

/// Runs `restore`.
pub async fn run_restore(settings: &Settings, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    backup::restore(&settings.database_url, &args.input).await?;
    println!("{}", msg::restored(&args.input.display().to_string()));
    Ok(ExitCode::SUCCESS)
}
