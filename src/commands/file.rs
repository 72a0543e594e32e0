//! `sos-intake file`.

use crate::config::Settings;
use std::process::ExitCode;

/// Arguments of `sos-intake file`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Runs the command.
pub async fn run(_settings: &Settings, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("file: not implemented yet")
}
