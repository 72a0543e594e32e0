//! `sos-intake gmis …`.

use crate::config::Settings;
use std::process::ExitCode;

/// Subcommands of `sos-intake gmis`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Placeholder until implemented.
    Todo,
}

/// Runs the command.
pub async fn run(_settings: &Settings, _cmd: Command) -> anyhow::Result<ExitCode> {
    anyhow::bail!("gmis: not implemented yet")
}
