//! `sos-intake imap …`: diagnostics of the IMAP inbox.

mod check;

use crate::config::Settings;
use crate::messages::imap as msg;
use crate::queue::Db;
use std::process::ExitCode;

/// Subcommands of `sos-intake imap`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Log in, list the folders and the backlog, and say what is wrong.
    Check(CheckArgs),
}

/// Arguments of `sos-intake imap check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Do not open the database (the backlog then counts every message).
    #[arg(long)]
    pub no_db: bool,
}

/// Runs the command. Exit 0 when all is well, 1 when a problem was found.
pub async fn run(settings: &Settings, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Check(args) => run_check(settings, args).await,
    }
}

async fn run_check(settings: &Settings, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = &settings.config.imap else {
        println!("{}", msg::CHECK_NOT_CONFIGURED);
        return Ok(ExitCode::from(1));
    };
    let db = if args.no_db {
        None
    } else {
        Some(Db::connect(&settings.database_url).await?)
    };
    let report = check::check(config, db.as_ref()).await;
    for line in &report.lines {
        println!("{line}");
    }
    match report.problem {
        None => {
            println!("{}", msg::CHECK_OK);
            Ok(ExitCode::SUCCESS)
        }
        Some(problem) => {
            println!("{}", msg::check_problem(&problem.to_string()));
            // OAuth set-ups are often done with Microsoft or Google
            // support, or a contractor: the step also in English.
            if let Some(english) = problem.english() {
                println!("(English) {english}");
            }
            Ok(ExitCode::from(1))
        }
    }
}
