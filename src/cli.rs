//! The command line: global options and the subcommands, each dispatched to
//! its own module under [`crate::commands`].

use crate::commands;
use crate::config::{Config, Settings};
use crate::readers::ReaderPool;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// sos-intake: 緊急配布要請シートのメール受付ゲートウェイ.
#[derive(Debug, Parser)]
#[command(name = "sos-intake", version, about, long_about = None)]
pub struct Cli {
    /// Data directory: database, raw mail, inbox, outbox (default ./data).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (default ./sos-intake.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log lines as `text` or `json` (one object a line).
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: crate::observe::logging::LogFormat,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read and validate request sheets; report findings.
    Check(commands::check::Args),
    /// Write the blank request form.
    Template(commands::template::Args),
    /// Business calendar and the cut-off rule.
    #[command(subcommand)]
    Calendar(commands::calendar::Command),
    /// Import the G-MIS SOS export.
    #[command(subcommand)]
    Gmis(commands::gmis::Command),
    /// Inspect the queue.
    #[command(subcommand)]
    Queue(commands::queue::Command),
    /// File one sheet by hand.
    File(commands::file::Args),
    /// Process one message (a file, or - for stdin).
    Ingest(commands::ingest::Args),
    /// Run the mail worker, the reply sender and the web UI.
    Serve(commands::serve::Args),
    /// IMAP diagnostics.
    #[command(subcommand)]
    Imap(commands::imap::Command),
    /// Staff accounts of the web UI.
    #[command(subcommand)]
    Users(commands::users::Command),
    /// The effective configuration and unsafe settings.
    #[command(subcommand)]
    Config(commands::config_check::Command),
    /// Is the gateway ready? (asks the running gateway's /readyz)
    Status(commands::status::Args),
    /// Write a consistent copy of the database while the gateway runs.
    Backup(commands::backup::BackupArgs),
    /// Restore a backup into an empty data directory or database.
    Restore(commands::backup::RestoreArgs),
    /// Remove what [retention] says is past its time (--dry-run: only list).
    Purge(commands::purge::Args),
    /// A reader process of the gateway (started by the gateway itself).
    #[command(hide = true)]
    Reader(commands::reader::Args),
}

/// Parses the command line, runs the command and returns its exit code.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    crate::observe::logging::set_format(cli.log_format);
    // An MTA piping mail to `ingest` keeps the message and retries on 75; any
    // failure before the pipeline has the message (an unreadable
    // configuration, a database that cannot be opened) must not bounce it.
    let failure = if matches!(cli.command, Command::Ingest(_)) {
        commands::ingest::EX_TEMPFAIL
    } else {
        2
    };
    match dispatch(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("エラー: {err:#}");
            ExitCode::from(failure)
        }
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = match cli.command {
        // A reader gets everything from the gateway, not from files.
        Command::Reader(args) => return Ok(commands::reader::run(args)),
        other => other,
    };
    let config = Config::load(cli.config.as_deref())?;
    let settings = Settings::resolve(config, cli.data_dir);
    match command {
        Command::Reader(args) => Ok(commands::reader::run(args)),
        Command::Check(args) => {
            let readers = ReaderPool::for_current_exe(&settings.config.readers)?;
            commands::check::run(&settings, &readers, args)
        }
        Command::Template(args) => commands::template::run(&settings, args),
        Command::Calendar(cmd) => commands::calendar::run(&settings, cmd),
        Command::Gmis(cmd) => commands::gmis::run(&settings, cmd).await,
        Command::Queue(cmd) => commands::queue::run(&settings, cmd).await,
        Command::File(args) => commands::file::run(&settings, args).await,
        Command::Ingest(args) => {
            if let Err(e) = install_readers(&settings) {
                // Temporary as far as the MTA knows: it keeps the mail.
                eprintln!("エラー: {e:#}");
                return Ok(ExitCode::from(commands::ingest::EX_TEMPFAIL));
            }
            commands::ingest::run(&settings, args).await
        }
        Command::Serve(args) => {
            install_readers(&settings)?;
            commands::serve::run(&settings, args).await
        }
        Command::Imap(cmd) => commands::imap::run(&settings, cmd).await,
        Command::Users(cmd) => commands::users::run(&settings, cmd).await,
        Command::Config(cmd) => commands::config_check::run(&settings, cmd).await,
        Command::Purge(args) => commands::purge::run(&settings, args).await,
        Command::Status(args) => commands::status::run(&settings, args).await,
        Command::Backup(args) => commands::backup::run_backup(&settings, args).await,
        Command::Restore(args) => commands::backup::run_restore(&settings, args).await,
    }
}

/// Starts the reader processes every `Intake` of this process uses; no
/// fallback to parsing in-process.
fn install_readers(settings: &Settings) -> anyhow::Result<()> {
    let pool = ReaderPool::for_current_exe(&settings.config.readers)?;
    pool.install();
    Ok(())
}
