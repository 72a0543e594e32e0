//! `sos-intake config check`: prints the effective configuration (file,
//! command line and environment resolved; the database password
//! redacted) and warns about unsafe settings. Exit status 0 when there is
//! nothing to warn about, 1 otherwise.

use crate::config::Settings;
use crate::messages::ops as msg;
use crate::ops::config_check;
use crate::queue::Db;
use std::process::ExitCode;

/// Subcommands of `sos-intake config`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the effective configuration and warn about unsafe settings.
    Check,
}

/// Runs the command.
pub async fn run(settings: &Settings, cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Check = cmd;
    println!("{}", msg::EFFECTIVE_CONFIG);
    println!("data_dir = {}", settings.data_dir.display());
    println!(
        "database_url = {}",
        crate::queue::db::redact(&settings.database_url)
    );
    let mut shown = settings.config.clone();
    shown.database_url = shown.database_url.as_deref().map(crate::queue::db::redact);
    println!("{shown:#?}");
    let mut warnings = config_check::config_warnings(settings);
    match Db::connect(&settings.database_url).await {
        Ok(db) => {
            warnings.extend(demo_password_accounts(&db).await?);
            db.close().await;
        }
        Err(e) => println!("{}", msg::config_db_unchecked(&format!("{e:#}"))),
    }
    if warnings.is_empty() {
        println!("{}", msg::CONFIG_SAFE);
        return Ok(ExitCode::SUCCESS);
    }
    for w in &warnings {
        println!("{}", msg::config_warning(w));
    }
    Ok(ExitCode::from(1))
}

/// Accounts whose password is still the demo one.
async fn demo_password_accounts(db: &Db) -> anyhow::Result<Vec<config_check::Warning>> {
    let accounts = crate::queue::health::password_hashes(db).await?;
    Ok(accounts
        .into_iter()
        .filter(|(_, hash)| crate::web::auth::verify_password(config_check::DEMO_PASSWORD, hash))
        .map(|(name, _)| config_check::Warning::DemoPassword(name))
        .collect())
}
