//! `sos-intake users …`: staff accounts of the web UI.
//!
//! The password is typed at the terminal without echo (asked twice), or read
//! as the first line of standard input when that is not a terminal (scripts
//! and tests pipe it in). It is never a command-line argument, which other
//! users of the machine could see in the process list.

use crate::config::Settings;
use crate::messages::web as msg;
use crate::queue::Db;
use crate::web::auth::{self, Role};
use anyhow::Context;
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// Subcommands of `sos-intake users`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a staff account, or set a new password and role for one.
    Add {
        /// The name shown in the UI and written into the audit history.
        name: String,
        /// `reviewer` (review, decide, export) or `admin` (also quarantine).
        #[arg(long, value_parser = ["reviewer", "admin"], default_value = "reviewer")]
        role: String,
    },
    /// List the accounts.
    List,
    /// Remove an account (its sessions end at once).
    Remove {
        /// The account's name.
        name: String,
    },
}

/// Runs the command.
pub async fn run(settings: &Settings, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Add { name, role } => {
            let role = Role::parse(&role).context("role must be reviewer or admin")?;
            let password = read_password(&name)?;
            let db = Db::connect(&settings.database_url).await?;
            let mut conn = db.pool().acquire().await?;
            match auth::upsert_user(&mut conn, &name, role, &password).await {
                Ok(new) => {
                    println!("{}", msg::user_saved(name.trim(), role.as_str(), new));
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) if e.downcast_ref::<auth::UserError>().is_some() => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e),
            }
        }
        Command::List => {
            let db = Db::connect(&settings.database_url).await?;
            let mut conn = db.pool().acquire().await?;
            for u in auth::list_users(&mut conn).await? {
                println!("{}\t{}\t{}", u.name, u.role.as_str(), u.created_at);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove { name } => {
            let db = Db::connect(&settings.database_url).await?;
            let mut conn = db.pool().acquire().await?;
            let found = auth::remove_user(&mut conn, &name).await?;
            println!("{}", msg::user_removed(&name, found));
            Ok(if found {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// The password: prompted twice without echo on a terminal, else the first
/// line of standard input.
fn read_password(name: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = prompt_hidden(&msg::password_prompt(name))?;
    let second = prompt_hidden(msg::password_again_prompt())?;
    if first != second {
        anyhow::bail!("{}", msg::passwords_differ());
    }
    Ok(first)
}

/// Reads one line with the terminal's echo off (`stty -echo`), restoring it
/// afterwards even when reading fails.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    let mut err = std::io::stderr();
    write!(err, "{prompt}")?;
    err.flush()?;
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !stty("-echo") {
        anyhow::bail!(
            "cannot turn off the terminal's echo (stty); pipe the password on standard input instead"
        );
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    stty("echo");
    writeln!(err)?;
    read.context("cannot read the password")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
